-- The PCO ids of the groups an incremental groups load looks at: everything that can change what
-- the load writes for a group (its landed record; the church's row; a base, a conflict or
-- needs-action row, or a quarantine entry of it) changed at or after :since, plus every group an
-- unapplied conflict or needs-action row or an open quarantine entry names. (Areas, one per PCO
-- group type, are few: every run loads them all.) Each part reads an index (sql/0019, sql/0021)
-- or a small table.
SELECT n.pco_id
FROM sync_records_named_since(ARRAY['church_groups'], CAST(ARRAY[] AS TEXT[]), :since) AS n
UNION
SELECT l.pco_id FROM pco_landed_since('groups/groups', :since) AS l
UNION
SELECT g.pco_id FROM church_group AS g
WHERE g.updated_at >= :since AND g.level = 3 AND g.pco_id IS NOT NULL
