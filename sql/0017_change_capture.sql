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
-- The triggers are per row, each with a WHEN condition PostgreSQL evaluates before calling
-- anything: a write carrying the mark, or an update leaving every synced column as it was, costs
-- one expression per row (no function call, no outbox row); each captured row costs one small
-- insert (a bulk UPDATE of 100,000 people by another application: about 20 s on a busy 2-core
-- machine, against 3 s uncaptured). NOTIFY carries the table's name; PostgreSQL sends one per
-- channel and payload per transaction. (Per-statement triggers with transition tables were
-- measured slower: every marked bulk write still copies its rows into the transition tables, and
-- comparing the old and new rows of a 100,000-row UPDATE set-based took a minute.)

CREATE TABLE church_outbox (
    id              BIGSERIAL PRIMARY KEY,
    table_name      TEXT NOT NULL,                 -- people, person_emails, ..., group_membership
    row_key         TEXT NOT NULL,                 -- the row's id ("family_id:person_id" for family_members)
    operation       TEXT NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
    changed_columns TEXT[] NOT NULL,               -- the synced columns changed (all: insert, delete)
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

-- Whether this write is the pipeline's own (sql/0012's 'pco' mark or the engine's 'pipeline').
CREATE FUNCTION written_by_pipeline() RETURNS BOOLEAN
LANGUAGE sql STABLE AS $$
    SELECT coalesce(current_setting('pco_pipeline.origin', true), '') <> ''
$$;

-- Trigger arguments: the key columns (comma-separated), then the synced columns.
CREATE FUNCTION capture_church_change() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    synced TEXT[] := TG_ARGV[1:TG_NARGS - 1];
    before_values JSONB;
    after_values JSONB;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        before_values := to_jsonb(OLD);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        after_values := to_jsonb(NEW);
    END IF;
    INSERT INTO church_outbox (table_name, row_key, operation, changed_columns)
    VALUES (
        TG_TABLE_NAME,
        church_row_key(coalesce(after_values, before_values), string_to_array(TG_ARGV[0], ',')),
        lower(TG_OP),
        CASE
            WHEN TG_OP = 'UPDATE'
                THEN ARRAY(
                    SELECT c FROM unnest(synced) AS c
                    WHERE (before_values -> c) IS DISTINCT FROM (after_values -> c)
                )
            ELSE synced
        END
    );
    PERFORM pg_notify('church_outbox', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;

CREATE TRIGGER people_capture_insert_delete AFTER INSERT OR DELETE ON people
FOR EACH ROW WHEN (NOT written_by_pipeline())
EXECUTE FUNCTION capture_church_change(
    'id',
    'first_name',
    'last_name',
    'nickname',
    'middle_name',
    'gender',
    'birthdate',
    'child',
    'grade',
    'status',
    'membership',
    'is_active'
);
CREATE TRIGGER people_capture_update AFTER UPDATE ON people
FOR EACH ROW WHEN (
    NOT written_by_pipeline()
    AND (
        old.first_name,
        old.last_name,
        old.nickname,
        old.middle_name,
        old.gender,
        old.birthdate,
        old.child,
        old.grade,
        old.status,
        old.membership,
        old.is_active
    ) IS DISTINCT FROM (
        new.first_name,
        new.last_name,
        new.nickname,
        new.middle_name,
        new.gender,
        new.birthdate,
        new.child,
        new.grade,
        new.status,
        new.membership,
        new.is_active
    )
)
EXECUTE FUNCTION capture_church_change(
    'id',
    'first_name',
    'last_name',
    'nickname',
    'middle_name',
    'gender',
    'birthdate',
    'child',
    'grade',
    'status',
    'membership',
    'is_active'
);

CREATE TRIGGER person_emails_capture_insert_delete AFTER INSERT OR DELETE ON person_emails
FOR EACH ROW WHEN (NOT written_by_pipeline())
EXECUTE FUNCTION capture_church_change('id', 'person_id', 'address', 'address_normalized', 'location', 'is_primary');
CREATE TRIGGER person_emails_capture_update AFTER UPDATE ON person_emails
FOR EACH ROW WHEN (
    NOT written_by_pipeline()
    AND (old.person_id, old.address, old.address_normalized, old.location, old.is_primary) IS DISTINCT FROM (
        new.person_id, new.address, new.address_normalized, new.location, new.is_primary
    )
)
EXECUTE FUNCTION capture_church_change('id', 'person_id', 'address', 'address_normalized', 'location', 'is_primary');

CREATE TRIGGER person_phones_capture_insert_delete AFTER INSERT OR DELETE ON person_phones
FOR EACH ROW WHEN (NOT written_by_pipeline())
EXECUTE FUNCTION capture_church_change('id', 'person_id', 'number', 'e164', 'location', 'is_primary');
CREATE TRIGGER person_phones_capture_update AFTER UPDATE ON person_phones
FOR EACH ROW WHEN (
    NOT written_by_pipeline()
    AND (old.person_id, old.number, old.e164, old.location, old.is_primary) IS DISTINCT FROM (
        new.person_id, new.number, new.e164, new.location, new.is_primary
    )
)
EXECUTE FUNCTION capture_church_change('id', 'person_id', 'number', 'e164', 'location', 'is_primary');

CREATE TRIGGER families_capture_insert_delete AFTER INSERT OR DELETE ON families
FOR EACH ROW WHEN (NOT written_by_pipeline())
EXECUTE FUNCTION capture_church_change(
    'id', 'name', 'street_line_1', 'street_line_2', 'city', 'state', 'zip', 'country_code'
);
CREATE TRIGGER families_capture_update AFTER UPDATE ON families
FOR EACH ROW WHEN (
    NOT written_by_pipeline()
    AND (
        old.name, old.street_line_1, old.street_line_2, old.city, old.state, old.zip, old.country_code
    ) IS DISTINCT FROM (new.name, new.street_line_1, new.street_line_2, new.city, new.state, new.zip, new.country_code)
)
EXECUTE FUNCTION capture_church_change(
    'id', 'name', 'street_line_1', 'street_line_2', 'city', 'state', 'zip', 'country_code'
);

CREATE TRIGGER family_members_capture_insert_delete AFTER INSERT OR DELETE ON family_members
FOR EACH ROW WHEN (NOT written_by_pipeline())
EXECUTE FUNCTION capture_church_change('family_id,person_id', 'is_primary_contact');
CREATE TRIGGER family_members_capture_update AFTER UPDATE ON family_members
FOR EACH ROW WHEN (NOT written_by_pipeline() AND old.is_primary_contact IS DISTINCT FROM new.is_primary_contact)
EXECUTE FUNCTION capture_church_change('family_id,person_id', 'is_primary_contact');

CREATE TRIGGER group_membership_capture_insert_delete AFTER INSERT OR DELETE ON group_membership
FOR EACH ROW WHEN (NOT written_by_pipeline())
EXECUTE FUNCTION capture_church_change('id', 'group_id', 'person_id', 'leader_type', 'joined_at');
CREATE TRIGGER group_membership_capture_update AFTER UPDATE ON group_membership
FOR EACH ROW WHEN (
    NOT written_by_pipeline()
    AND (old.group_id, old.person_id, old.leader_type, old.joined_at) IS DISTINCT FROM (
        new.group_id, new.person_id, new.leader_type, new.joined_at
    )
)
EXECUTE FUNCTION capture_church_change('id', 'group_id', 'person_id', 'leader_type', 'joined_at');
