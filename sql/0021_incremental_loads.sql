-- Incremental families, groups and memberships loads (issue 17 item 3, after sql/0019's people
-- load): what an incremental run looks up to find the records something changed for.
-- Forward-only: never edit this file once applied; add a new numbered file instead.

-- A person whose address, record or church row changed names the households PCO lists them in:
-- a household's members are its `people` relationship (a JSON array of PCO person ids).
CREATE INDEX pco_landing_household_people_idx ON pco_landing USING gin ((relationships -> 'people') jsonb_path_ops)
WHERE resource = 'people/households';

-- A person who changed (linked, created, merged) names their group memberships.
CREATE INDEX pco_landing_membership_person_idx ON pco_landing ((relationships ->> 'person'))
WHERE resource = 'groups/memberships';

-- What the church changed since a time: families, members and groups (family_members and
-- group_membership rows are found through their family's and their own pco_id).
CREATE INDEX families_updated_at_idx ON families (updated_at);
CREATE INDEX family_members_updated_at_idx ON family_members (updated_at);
CREATE INDEX church_group_updated_at_idx ON church_group (updated_at);
CREATE INDEX group_membership_updated_at_idx ON group_membership (updated_at);

-- Staff edit groups with their own tools, which do not set updated_at: as for the tables of
-- sql/0013, a trigger moves it when the row changes (an incremental groups load reads it).
CREATE TRIGGER church_group_move_updated_at BEFORE UPDATE ON church_group
FOR EACH ROW EXECUTE FUNCTION move_updated_at();

-- The records of `entities` two-way sync's bookkeeping names since `since`: a base agreed, a
-- church deletion made or pushed (of the church tables `deleted_from`), and every conflict and
-- quarantine entry still open or closed since. Every incremental load's scope starts from it
-- (sync/sql/<entity>/changed_since.sql): their decision or re-check is every run's work.
CREATE FUNCTION sync_records_named_since(entities TEXT[], deleted_from TEXT[], since TIMESTAMPTZ)
RETURNS TABLE (entity TEXT, pco_id TEXT)
LANGUAGE sql STABLE AS $$
    SELECT b.entity, b.pco_id FROM sync_base AS b
    WHERE b.entity = ANY(entities) AND b.agreed_at >= since
    UNION ALL
    SELECT d.local_table, d.pco_id FROM church_deletions AS d
    WHERE d.local_table = ANY(deleted_from) AND (d.deleted_at >= since OR d.pushed_at >= since)
    UNION ALL
    SELECT sc.entity, sc.pco_id FROM sync_conflicts AS sc
    WHERE sc.entity = ANY(entities) AND (sc.applied_at IS NULL OR sc.applied_at >= since)
    UNION ALL
    SELECT q.entity, q.record_key FROM sync_quarantine AS q
    WHERE q.entity = ANY(entities) AND (q.resolved_at IS NULL OR q.resolved_at >= since)
$$;
