-- The staff console's quarantine review: what staff decided about a PCO person the people load
-- could not match by itself (pco_pipeline/console/decisions.py writes these; the next people
-- load applies them, pco_pipeline/sync/match.py).

-- One row per decision, never updated: the newest row of a PCO person is the one in force, the
-- older ones are its history (who decided what, when).
--   link   the PCO person is local person `person_id` (one of the candidates shown);
--   create the PCO person is none of the candidates: a new local person;
--   hold   leave it quarantined (nothing changes until someone decides otherwise).
CREATE TABLE match_decisions (
    id              BIGSERIAL PRIMARY KEY,
    pco_person_id   TEXT NOT NULL,
    decision        TEXT NOT NULL CHECK (decision IN ('link', 'create', 'hold')),
    person_id       BIGINT REFERENCES people (id) ON DELETE CASCADE,
    -- The local candidates the quarantine named when staff decided.
    candidates      BIGINT[] NOT NULL DEFAULT '{}',
    quarantine_id   BIGINT REFERENCES sync_quarantine (id) ON DELETE SET NULL,
    decided_by      TEXT NOT NULL,
    decided_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    CHECK ((decision = 'link') = (person_id IS NOT NULL))
);
CREATE INDEX match_decisions_person_idx ON match_decisions (pco_person_id, decided_at DESC, id DESC);

-- A local person staff said is NOT the PCO person they were a candidate for. Until such a row
-- exists, a candidate of an ambiguous match is never pushed to PCO as a new person once that PCO
-- person is linked to someone else (it may be the same human twice). A `create` decision writes
-- one row per candidate.
CREATE TABLE distinct_people (
    person_id       BIGINT NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    pco_person_id   TEXT NOT NULL,
    decided_by      TEXT NOT NULL,
    decided_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (person_id, pco_person_id)
);
