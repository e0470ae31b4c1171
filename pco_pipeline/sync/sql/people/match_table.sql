-- The match decisions of one load (see sync/match.py): one row per staged PCO person.
CREATE TEMP TABLE person_match (
    pco_id TEXT PRIMARY KEY,
    person_id BIGINT,
    method TEXT NOT NULL,
    candidates BIGINT[],
    claimed_by TEXT
) ON COMMIT DROP
