-- The records of :entity (church table :table) an incremental push looks at whatever the entity:
-- their base moved or their church row was deleted at or after :since, a conflict about them is
-- not yet applied (deciding it, or sending what was decided, is every run's work), or the last
-- comparison found them not in sync (push_unsettled, sql/0022). Each part reads an index.
-- (The entity statements cast an outbox row's key only for their own table: CASE, since other
-- tables' keys, e.g. family_members' 'family:person', are not numbers and a join may cast first.)
SELECT b.pco_id FROM sync_base AS b
WHERE b.entity = :entity AND b.agreed_at >= :since
UNION
SELECT d.pco_id FROM church_deletions AS d
WHERE d.local_table = :table AND d.deleted_at >= :since
UNION
SELECT sc.pco_id FROM sync_conflicts AS sc
WHERE sc.entity = :entity AND sc.applied_at IS NULL
UNION
SELECT u.pco_id FROM push_unsettled AS u
WHERE u.entity = :entity
