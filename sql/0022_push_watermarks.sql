-- Incremental push planning (issue 17 item 3): the push's three-way comparison reads only the
-- records that can differ from their base since its last run of that entity. Its watermark is a
-- `load_watermarks` row keyed 'push:<entity>' (sql/0019's contract: written in the planning
-- transaction, a planning that fails moves nothing). What else the next run must look at is the
-- set below: a record the comparison found not in sync stays not in sync until something about
-- it changes (a write PCO confirmed moves its base; the church or PCO edits it), so the records
-- not in sync at the last run plus those changed since are every record that can differ now.
-- Forward-only: never edit this file once applied; add a new numbered file instead.
CREATE TABLE push_unsettled (
    entity          TEXT NOT NULL,                 -- people, person_emails, ..., family_members
    pco_id          TEXT NOT NULL,                 -- a record the last comparison found not in sync
    PRIMARY KEY (entity, pco_id)
);

-- What an incremental push looks up (sync/sql/push/*.sql): church rows, outbox rows, deletions
-- and bases changed since a time, and the base of a church row (found by its local id) that is
-- no longer linked under the PCO id the base remembers. (families and family_members by updated_at,
-- and PCO's households by member, are sql/0021's.)
CREATE INDEX church_outbox_changed_idx ON church_outbox (table_name, changed_at);
CREATE INDEX church_deletions_deleted_idx ON church_deletions (local_table, deleted_at);
CREATE INDEX sync_base_local_idx ON sync_base (entity, local_id);
-- A household membership's base is keyed '<household>:<person>': its person, for a person unlinked.
CREATE INDEX sync_base_member_person_idx ON sync_base (split_part(pco_id, ':', 2))
WHERE entity = 'family_members';
-- The people push reads the church's inactive people each run (their deactivation PCO has not
-- had yet, sync/people_updates.py): through this index, not every person.
CREATE INDEX people_inactive_idx ON people (pco_id) WHERE NOT is_active AND merged_into_id IS NULL;
