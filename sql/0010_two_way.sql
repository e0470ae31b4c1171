-- Two-way sync: the base (what church and PCO last agreed on, per linked record) and the
-- conflicts (every field both sides changed to different values, and how each was decided).
-- Written only by pco_pipeline/sync/conflicts.py; the three-way rule is pco_pipeline/sync/merge.py.
-- Forward-only: never edit this file once applied; add a new numbered file instead.

-- One row per linked record of a two-way entity. The agreed values are one JSONB object
-- ({field: value}) rather than a typed table per entity or a row per field: a new entity or
-- field is a declaration in code, not a migration; the bulk diff reads one row per record
-- (hash-joined on pco_id) and casts each field back to its type, which keeps it set-based and
-- typed (a timestamp compares as a timestamp whatever the session's time zone). A field missing
-- from the object has no known base: the rule treats it as changed on both sides.
CREATE TABLE sync_base (
    entity          TEXT NOT NULL,                 -- people, person_emails, families, ...
    pco_id          TEXT NOT NULL,
    local_id        BIGINT NOT NULL,               -- the church row's id
    agreed_values   JSONB NOT NULL CHECK (jsonb_typeof(agreed_values) = 'object'),
    agreed_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, pco_id)
);

-- Every conflict, including those a policy decided, so no edit is ever lost silently.
-- Values are JSONB (fields of every type share the table): SQL NULL means the record was
-- deleted on that side (or, for the base, that no base was known); JSON null is a blank field.
CREATE TABLE sync_conflicts (
    id                  BIGSERIAL PRIMARY KEY,
    entity              TEXT NOT NULL,
    local_id            BIGINT NOT NULL,
    pco_id              TEXT NOT NULL,
    field               TEXT NOT NULL,
    base_value          JSONB,
    church_value        JSONB,
    pco_value           JSONB,
    church_changed_at   TIMESTAMPTZ,               -- the church row's updated_at
    pco_changed_at      TIMESTAMPTZ,               -- PCO's updated_at
    policy              TEXT NOT NULL CHECK (policy IN ('pco', 'church', 'newest', 'manual')),
    -- What the policy did: one side won, or the conflict waits for a person.
    outcome             TEXT NOT NULL CHECK (outcome IN ('church_wins', 'pco_wins', 'held')),
    detected_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_by          TEXT,                      -- 'policy <name>', or who resolved it
    decided_at          TIMESTAMPTZ,
    resolution_side     TEXT CHECK (resolution_side IN ('church', 'pco', 'value')),
    resolution_value    JSONB,                     -- what both sides get; SQL NULL: the record stays deleted
    applied_at          TIMESTAMPTZ,               -- when a push or load made both sides hold it
    CHECK ((decided_at IS NULL) = (decided_by IS NULL)),
    CHECK ((decided_at IS NULL) = (resolution_side IS NULL)),
    CHECK ((outcome = 'held') OR decided_at IS NOT NULL),
    CHECK (applied_at IS NULL OR decided_at IS NOT NULL)
);
-- At most one conflict per field waits to be applied: seeing the same conflict again on the next
-- run updates it instead of adding a second row.
CREATE UNIQUE INDEX sync_conflicts_pending_key ON sync_conflicts (entity, pco_id, field)
WHERE applied_at IS NULL;
-- `conflicts list --open` and the asset check on the oldest waiting conflict.
CREATE INDEX sync_conflicts_open_idx ON sync_conflicts (detected_at, id) WHERE decided_at IS NULL;
-- Decided, not yet applied: what the next push or load picks up.
CREATE INDEX sync_conflicts_to_apply_idx ON sync_conflicts (entity, id)
WHERE decided_at IS NOT NULL AND applied_at IS NULL;
