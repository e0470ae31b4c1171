-- Inbound sync storage: PCO records as landed, complete listings, the quarantine, and the
-- columns the church tables need to tell PCO-sourced rows from local ones.

-- Every PCO record the extract has read, one row per (resource, id), in one table.
-- `resource` is a catalog name (pco_pipeline/sync/catalog.py), e.g. people/people,
-- groups/memberships, check-ins/check_ins. One table rather than one per resource because the
-- extract is the same for all of them and the load reads them with plain SQL; `normalized`
-- holds the values the load writes (cleaned in Python once, when the record is landed) so the
-- load itself can stay set-based.
CREATE TABLE pco_landing (
    resource        TEXT NOT NULL,
    pco_id          TEXT NOT NULL,
    -- The record this one belongs to: the person of an Email, the group of a Membership.
    parent_pco_id   TEXT,
    pco_created_at  TIMESTAMPTZ,
    pco_updated_at  TIMESTAMPTZ,
    attributes      JSONB NOT NULL,                -- as PCO sent them
    relationships   JSONB NOT NULL DEFAULT '{}',   -- name -> "id" | ["id", ...] | null
    normalized      JSONB NOT NULL DEFAULT '{}',   -- cleaned values + "problems"
    first_seen_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When the content last changed (or the record reappeared): re-reading an unchanged record
    -- only moves last_seen_at.
    changed_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when PCO no longer has the record (absent from a complete listing, or dropped from its
    -- parent's relationship); cleared if it comes back. Landed rows are never deleted.
    removed_at      TIMESTAMPTZ,
    PRIMARY KEY (resource, pco_id)
);
CREATE INDEX pco_landing_parent_idx ON pco_landing (resource, parent_pco_id) WHERE parent_pco_id IS NOT NULL;

-- A complete listing of one resource: rows not seen since it started are marked removed when it
-- finishes. An unfinished listing (crash, error) removes nothing.
CREATE TABLE pco_listing (
    id              BIGSERIAL PRIMARY KEY,
    resource        TEXT NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    seen_count      INTEGER,
    removed_count   INTEGER,
    CHECK (finished_at IS NULL OR finished_at >= started_at)
);
CREATE INDEX pco_listing_resource_idx ON pco_listing (resource, finished_at DESC);

-- Records a sync could not apply (invalid data, ambiguous match, missing parent, refused by PCO).
-- One open row per (entity, record_key); every run re-checks open rows and resolves those that
-- now load.
CREATE TABLE sync_quarantine (
    id              BIGSERIAL PRIMARY KEY,
    entity          TEXT NOT NULL,                 -- people, person_emails, group_memberships, ...
    direction       TEXT NOT NULL DEFAULT 'inbound' CHECK (direction IN ('inbound', 'outbound', 'webhook')),
    record_key      TEXT NOT NULL,                 -- the PCO id, or another stable key of the record
    pco_id          TEXT,
    local_id        BIGINT,
    reason_code     TEXT NOT NULL,                 -- invalid_data, ambiguous_match, missing_parent, ...
    reason          TEXT NOT NULL,                 -- for staff: what is wrong and what would fix it
    details         JSONB NOT NULL DEFAULT '{}',   -- e.g. candidate ids of an ambiguous match
    record          JSONB,                         -- the record as received
    first_seen_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    seen_count      INTEGER NOT NULL DEFAULT 1,
    resolved_at     TIMESTAMPTZ
);
CREATE UNIQUE INDEX sync_quarantine_open_key ON sync_quarantine (entity, record_key) WHERE resolved_at IS NULL;
CREATE INDEX sync_quarantine_entity_idx ON sync_quarantine (entity, resolved_at);

-- A person merged away in PCO keeps its row (inactive) and points at the survivor.
ALTER TABLE people ADD COLUMN merged_into_id BIGINT REFERENCES people (id) ON DELETE SET NULL;

-- 'pco' memberships were created by the inbound sync and follow PCO (removed when PCO removes
-- them); 'local' ones belong to the church even once pushed to PCO.
ALTER TABLE group_membership ADD COLUMN source TEXT NOT NULL DEFAULT 'local'
    CHECK (source IN ('local', 'pco'));

-- Events come from the church, from PCO Calendar (event instances, pco_id = instance id) or
-- from PCO Check-Ins (check-in events, pco_id = 'check-ins:' || event id, so the two id spaces
-- never collide).
ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'local'
    CHECK (source IN ('local', 'calendar', 'check-ins'));

-- Set when PCO no longer has the record; the row stays because local rows may point at it.
ALTER TABLE church_group ADD COLUMN pco_removed_at TIMESTAMPTZ;
ALTER TABLE events ADD COLUMN pco_removed_at TIMESTAMPTZ;
ALTER TABLE locations ADD COLUMN pco_removed_at TIMESTAMPTZ;
ALTER TABLE families ADD COLUMN pco_removed_at TIMESTAMPTZ;
