-- Change capture (issue 17): the church's own edits to the synced tables are written into an
-- outbox as they commit, and announced with NOTIFY, so `push_church_changes_sensor` turns them
-- into pushes within seconds instead of waiting for someone to launch one.
-- Forward-only: never edit this file once applied; add a new numbered file instead.
--
-- What is captured: a row inserted or deleted, or an update that changed a synced column (the
-- columns the push sends, named per table in the triggers below; the registry's PCO-owned
-- fields, `sync/registry.py`, plus what says which record a row belongs to). An edit of a
-- church-only column (allergies, photo_url, a family member's role, ...) is not.
--
-- Whose writes are not captured (no echo): the pipeline's own. Every connection the pipeline's
-- engine opens (`pco_pipeline/db/engine.py`) starts with `pco_pipeline.origin = 'pipeline'`,
-- and the loads and webhook application also mark their transactions
-- `SET LOCAL pco_pipeline.origin = 'pco'` (sql/0012). The triggers capture only when the
-- setting is unset or empty, i.e. writes by any other application or by staff in psql. The mark
-- is per connection rather than per transaction because the pipeline writes the synced tables
-- from many places (loads, webhook application, PCO ids and PCO's values stored after a push,
-- conflict resolutions, merges, the local dataset import): marking the connection covers them
-- all, including writers added later, without touching each one.
--
-- Nothing is backfilled: on an existing database the outbox starts empty. What is already out
-- of sync is the push's to find (its three-way comparison against the base), not the outbox's.
--
-- The triggers are per statement with transition tables: one INSERT into the outbox and one
-- NOTIFY per statement, whatever the number of rows (a bulk import of 100,000 people costs one
-- set-based insert, not 100,000 trigger calls).

CREATE TABLE church_outbox (
    id              BIGSERIAL PRIMARY KEY,
    table_name      TEXT NOT NULL,                 -- people, person_emails, ..., group_membership
    row_key         TEXT NOT NULL,                 -- the row's id ("family_id:person_id" for family_members)
    operation       TEXT NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
    changed_columns TEXT[] NOT NULL,               -- the synced columns the statement changed
    changed_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- pending: waiting (or held by a run until next_attempt_at, its lease); failed: tried, due
    -- again at next_attempt_at; sent: pushed; quarantined: the push could not send the record
    -- (the reason is in status_reason and in sync_quarantine), or it failed too many times.
    status          TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'failed', 'sent', 'quarantined')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    run_id          TEXT,                          -- the run that last claimed it
    status_reason   TEXT,
    finished_at     TIMESTAMPTZ
);
CREATE INDEX church_outbox_open_idx ON church_outbox (id) WHERE status IN ('pending', 'failed');

CREATE FUNCTION church_row_key(row_values JSONB, key_columns TEXT[]) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_to_string(ARRAY(SELECT row_values ->> k FROM unnest(key_columns) AS k), ':')
$$;

-- Trigger arguments: the key columns (comma-separated), then the synced columns.
CREATE FUNCTION capture_church_change() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    key_columns TEXT[] := string_to_array(TG_ARGV[0], ',');
    synced TEXT[] := TG_ARGV[1:TG_NARGS - 1];
    captured INTEGER;
BEGIN
    IF coalesce(current_setting('pco_pipeline.origin', true), '') <> '' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO church_outbox (table_name, row_key, operation, changed_columns)
        SELECT TG_TABLE_NAME, church_row_key(to_jsonb(n), key_columns), 'insert', synced FROM new_rows AS n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO church_outbox (table_name, row_key, operation, changed_columns)
        SELECT TG_TABLE_NAME, church_row_key(to_jsonb(o), key_columns), 'delete', synced FROM old_rows AS o;
    ELSE
        INSERT INTO church_outbox (table_name, row_key, operation, changed_columns)
        SELECT TG_TABLE_NAME, changes.row_key, 'update', changes.changed
        FROM (
            SELECT
                after_row.row_key,
                ARRAY(
                    SELECT c FROM unnest(synced) AS c
                    WHERE (before_row.row_values -> c) IS DISTINCT FROM (after_row.row_values -> c)
                ) AS changed
            FROM (SELECT to_jsonb(n) AS row_values, church_row_key(to_jsonb(n), key_columns) AS row_key
                FROM new_rows AS n) AS after_row
            INNER JOIN (SELECT to_jsonb(o) AS row_values, church_row_key(to_jsonb(o), key_columns) AS row_key
                FROM old_rows AS o) AS before_row
                ON after_row.row_key = before_row.row_key
        ) AS changes
        WHERE cardinality(changes.changed) > 0;
    END IF;
    GET DIAGNOSTICS captured = ROW_COUNT;
    IF captured > 0 THEN
        PERFORM pg_notify('church_outbox', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END;
$$;

-- people: the fields PCO keeps (is_active: a local deactivation is pushed as status inactive).
CREATE TRIGGER people_capture_insert AFTER INSERT ON people
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change(
    'id', 'first_name', 'last_name', 'nickname', 'middle_name', 'gender', 'birthdate', 'child', 'grade',
    'status', 'membership', 'is_active'
);
CREATE TRIGGER people_capture_update AFTER UPDATE ON people
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change(
    'id', 'first_name', 'last_name', 'nickname', 'middle_name', 'gender', 'birthdate', 'child', 'grade',
    'status', 'membership', 'is_active'
);
CREATE TRIGGER people_capture_delete AFTER DELETE ON people
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change(
    'id', 'first_name', 'last_name', 'nickname', 'middle_name', 'gender', 'birthdate', 'child', 'grade',
    'status', 'membership', 'is_active'
);

CREATE TRIGGER person_emails_capture_insert AFTER INSERT ON person_emails
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('id', 'person_id', 'address', 'address_normalized', 'location', 'is_primary');
CREATE TRIGGER person_emails_capture_update AFTER UPDATE ON person_emails
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('id', 'person_id', 'address', 'address_normalized', 'location', 'is_primary');
CREATE TRIGGER person_emails_capture_delete AFTER DELETE ON person_emails
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('id', 'person_id', 'address', 'address_normalized', 'location', 'is_primary');

CREATE TRIGGER person_phones_capture_insert AFTER INSERT ON person_phones
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('id', 'person_id', 'number', 'e164', 'location', 'is_primary');
CREATE TRIGGER person_phones_capture_update AFTER UPDATE ON person_phones
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('id', 'person_id', 'number', 'e164', 'location', 'is_primary');
CREATE TRIGGER person_phones_capture_delete AFTER DELETE ON person_phones
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('id', 'person_id', 'number', 'e164', 'location', 'is_primary');

CREATE TRIGGER families_capture_insert AFTER INSERT ON families
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change(
    'id', 'name', 'street_line_1', 'street_line_2', 'city', 'state', 'zip', 'country_code'
);
CREATE TRIGGER families_capture_update AFTER UPDATE ON families
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change(
    'id', 'name', 'street_line_1', 'street_line_2', 'city', 'state', 'zip', 'country_code'
);
CREATE TRIGGER families_capture_delete AFTER DELETE ON families
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change(
    'id', 'name', 'street_line_1', 'street_line_2', 'city', 'state', 'zip', 'country_code'
);

CREATE TRIGGER family_members_capture_insert AFTER INSERT ON family_members
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('family_id,person_id', 'is_primary_contact');
CREATE TRIGGER family_members_capture_update AFTER UPDATE ON family_members
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('family_id,person_id', 'is_primary_contact');
CREATE TRIGGER family_members_capture_delete AFTER DELETE ON family_members
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('family_id,person_id', 'is_primary_contact');

CREATE TRIGGER group_membership_capture_insert AFTER INSERT ON group_membership
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('id', 'group_id', 'person_id', 'leader_type', 'joined_at');
CREATE TRIGGER group_membership_capture_update AFTER UPDATE ON group_membership
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('id', 'group_id', 'person_id', 'leader_type', 'joined_at');
CREATE TRIGGER group_membership_capture_delete AFTER DELETE ON group_membership
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
EXECUTE FUNCTION capture_church_change('id', 'group_id', 'person_id', 'leader_type', 'joined_at');
