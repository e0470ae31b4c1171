-- Outbound updates and deletes (two-way sync, issue 16 item 5).
-- Forward-only: never edit this file once applied; add a new numbered file instead.

-- 1. The push ledger records updates (PATCH) and deletes (DELETE) as well as creates. An update
-- or delete is recorded as an intent ('sent', with the PCO id it is about) committed before the
-- request, and confirmed after PCO's answer; an intent still open at the next push is resumed
-- (PCO's record is read and compared with what was sent) instead of sent again blindly.
ALTER TABLE pco_push_ledger DROP CONSTRAINT pco_push_ledger_action_check;
ALTER TABLE pco_push_ledger ADD CONSTRAINT pco_push_ledger_action_check
CHECK (action IN ('create', 'update', 'delete'));

-- One write in flight per local record, kind and action (a record's update and the delete of
-- one of its contacts are different keys; an update and a delete of the same record never
-- overlap: the delete is planned only once the record is gone locally).
DROP INDEX pco_push_ledger_in_flight_key;
CREATE UNIQUE INDEX pco_push_ledger_in_flight_key
ON pco_push_ledger (resource_type, local_table, local_key, action)
WHERE state = 'sent';

-- 2. Linked church rows deleted locally. Once a row is gone its PCO id is gone with it, so the
-- push could not tell "the church deleted this person" from "PCO has a person the church has
-- not loaded yet". A trigger keeps the PCO id of every deleted row that had one, with when;
-- the push sends the deletion (or, for a person, the deactivation) and stamps `pushed_at`.
-- `deleted_at` is also what a three-way merge compares with PCO's updated_at (an edit in PCO
-- after the deletion is a conflict, not a deletion to send).
-- A delete that applies PCO's own change (an inbound load removing a contact PCO removed) is not
-- the church's: a writer applying PCO's data marks its transaction with
-- `SET LOCAL pco_pipeline.origin = 'pco'` and the trigger records nothing. Without the mark the
-- push still sends nothing for it: it sends a deletion only while PCO's landed record is there.
CREATE TABLE church_deletions (
    local_table TEXT NOT NULL,                     -- people, person_emails, person_phones, families,
    -- group_membership, family_members
    local_id BIGINT NOT NULL,
    pco_id TEXT NOT NULL,
    parent_pco_id TEXT,                            -- the group of a membership (its DELETE path names it)
    deleted_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    pushed_at TIMESTAMPTZ,                         -- when PCO confirmed (or said it was already gone)
    pushed_as TEXT CHECK (pushed_as IN ('deleted', 'inactivated', 'already_gone')),
    PRIMARY KEY (local_table, pco_id)
);
CREATE INDEX church_deletions_unpushed_idx ON church_deletions (local_table, deleted_at)
WHERE pushed_at IS NULL;

CREATE FUNCTION record_church_deletion() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.pco_id IS NOT NULL AND coalesce(current_setting('pco_pipeline.origin', true), '') <> 'pco' THEN
        INSERT INTO church_deletions (local_table, local_id, pco_id, parent_pco_id)
        VALUES (
            TG_TABLE_NAME, OLD.id, OLD.pco_id,
            -- to_jsonb: OLD has a group_id only in group_membership (PL/pgSQL resolves OLD.x per table).
            CASE WHEN TG_TABLE_NAME = 'group_membership'
                THEN (SELECT g.pco_id FROM church_group AS g WHERE g.id = CAST(to_jsonb(OLD) ->> 'group_id' AS bigint))
            END
        )
        ON CONFLICT (local_table, pco_id) DO UPDATE
        SET local_id = excluded.local_id, parent_pco_id = excluded.parent_pco_id,
        deleted_at = excluded.deleted_at, pushed_at = NULL, pushed_as = NULL;
    END IF;
    RETURN OLD;
END;
$$;

CREATE TRIGGER people_record_deletion AFTER DELETE ON people
FOR EACH ROW EXECUTE FUNCTION record_church_deletion();
CREATE TRIGGER person_emails_record_deletion AFTER DELETE ON person_emails
FOR EACH ROW EXECUTE FUNCTION record_church_deletion();
CREATE TRIGGER person_phones_record_deletion AFTER DELETE ON person_phones
FOR EACH ROW EXECUTE FUNCTION record_church_deletion();
CREATE TRIGGER families_record_deletion AFTER DELETE ON families
FOR EACH ROW EXECUTE FUNCTION record_church_deletion();
CREATE TRIGGER group_membership_record_deletion AFTER DELETE ON group_membership
FOR EACH ROW EXECUTE FUNCTION record_church_deletion();

-- A member taken out of a linked family: its PCO household membership is the pair
-- "<household id>:<person id>" (PCO's membership id is only known to PCO; the push looks it up).
-- Not recorded when the family itself is being deleted (the family's own row says so).
CREATE FUNCTION record_family_member_deletion() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    household TEXT;
    person TEXT;
BEGIN
    IF coalesce(current_setting('pco_pipeline.origin', true), '') = 'pco' THEN
        RETURN OLD;
    END IF;
    SELECT f.pco_id INTO household FROM families AS f WHERE f.id = OLD.family_id;
    SELECT p.pco_id INTO person FROM people AS p WHERE p.id = OLD.person_id;
    IF household IS NOT NULL AND person IS NOT NULL THEN
        INSERT INTO church_deletions (local_table, local_id, pco_id, parent_pco_id)
        VALUES ('family_members', OLD.family_id, household || ':' || person, household)
        ON CONFLICT (local_table, pco_id) DO UPDATE
        SET local_id = excluded.local_id, deleted_at = excluded.deleted_at, pushed_at = NULL, pushed_as = NULL;
    END IF;
    RETURN OLD;
END;
$$;

CREATE TRIGGER family_members_record_deletion AFTER DELETE ON family_members
FOR EACH ROW EXECUTE FUNCTION record_family_member_deletion();
