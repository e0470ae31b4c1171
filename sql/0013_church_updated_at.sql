-- The church row's updated_at says when the row last changed, whoever wrote it (two-way sync,
-- issue 16). The three-way rule's `newest` policy weighs it against PCO's updated_at, and staff
-- edit these tables with their own tools, which do not set it: a trigger does.
-- Forward-only: never edit this file once applied; add a new numbered file instead.
--
-- - A column other than updated_at changed: updated_at becomes the time of the change (now(),
--   the writing transaction's start), unless the writer set it to a time of its own (a writer
--   that states when the change happened, e.g. an import of older edits, is believed).
-- - Nothing but updated_at changed (a no-op UPDATE, such as `SET name = name, updated_at = now()`):
--   updated_at keeps its old value, so rewriting a row with the values it holds is not an edit.
CREATE FUNCTION move_updated_at() RETURNS TRIGGER
LANGUAGE plpgsql AS $$
DECLARE
    written_at TIMESTAMPTZ := NEW.updated_at;
BEGIN
    NEW.updated_at := OLD.updated_at;
    IF NEW IS DISTINCT FROM OLD THEN
        NEW.updated_at := CASE WHEN written_at IS DISTINCT FROM OLD.updated_at THEN written_at ELSE now() END;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER people_move_updated_at BEFORE UPDATE ON people
FOR EACH ROW EXECUTE FUNCTION move_updated_at();
CREATE TRIGGER person_emails_move_updated_at BEFORE UPDATE ON person_emails
FOR EACH ROW EXECUTE FUNCTION move_updated_at();
CREATE TRIGGER person_phones_move_updated_at BEFORE UPDATE ON person_phones
FOR EACH ROW EXECUTE FUNCTION move_updated_at();
CREATE TRIGGER families_move_updated_at BEFORE UPDATE ON families
FOR EACH ROW EXECUTE FUNCTION move_updated_at();
CREATE TRIGGER family_members_move_updated_at BEFORE UPDATE ON family_members
FOR EACH ROW EXECUTE FUNCTION move_updated_at();
CREATE TRIGGER group_membership_move_updated_at BEFORE UPDATE ON group_membership
FOR EACH ROW EXECUTE FUNCTION move_updated_at();
