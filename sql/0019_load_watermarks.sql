-- Incremental loads (issue 17 item 3): a load of an entity reads only what changed since its
-- last committed run. The watermark is written in the load's own transaction, so a load that
-- fails leaves it where it was and the next run reads the same changes again.
-- Forward-only: never edit this file once applied; add a new numbered file instead.
CREATE TABLE load_watermarks (
    entity          TEXT PRIMARY KEY,              -- the load: people (with its emails and phones)
    -- Every change committed after the load's snapshot has a time at or after this one (the
    -- start of the oldest transaction running when the load began): the next run reads from it.
    changed_since   TIMESTAMPTZ NOT NULL,
    loaded_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    full_load_at    TIMESTAMPTZ,                   -- the last full comparison (changed_since of that run)
    drifted_records INTEGER                        -- what that full comparison found the incremental runs missed
);

-- What an incremental run looks up: landed rows, church rows and bases changed since a time.
CREATE INDEX pco_landing_changed_idx ON pco_landing (resource, changed_at);
CREATE INDEX pco_landing_removed_idx ON pco_landing (resource, removed_at) WHERE removed_at IS NOT NULL;
CREATE INDEX people_updated_at_idx ON people (updated_at);
CREATE INDEX person_emails_updated_at_idx ON person_emails (updated_at);
CREATE INDEX person_phones_updated_at_idx ON person_phones (updated_at);
CREATE INDEX sync_base_agreed_idx ON sync_base (entity, agreed_at);
