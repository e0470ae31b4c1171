-- The PCO ids of the households an incremental families load looks at: everything that can change
-- what the load writes for a household (its landed record; a landed address, the church row or
-- a church deletion of one of its people; the church's family or members; a base, a church
-- deletion, a conflict or a quarantine entry of the family or of one of its members) changed at
-- or after :since, plus every household an unapplied conflict or an open quarantine entry names
-- (deciding or re-checking them is every run's work). Each part reads an index (sql/0019,
-- sql/0021) or a small table.
WITH people_changed AS (
    -- People whose change can change a household's address or members.
    SELECT a.parent_pco_id AS person_pco_id
    FROM pco_landed_since('people/addresses', :since) AS a
    WHERE a.parent_pco_id IS NOT NULL
    UNION
    SELECT p.pco_id FROM people AS p
    WHERE p.updated_at >= :since AND p.pco_id IS NOT NULL
    UNION
    SELECT d.pco_id FROM church_deletions AS d
    WHERE d.local_table = 'people' AND (d.deleted_at >= :since OR d.pushed_at >= :since)
)

-- Records by entity: a household, or a member "<household>:<person>".
SELECT split_part(n.pco_id, ':', 1) AS household
FROM
    sync_records_named_since(
        ARRAY['families', 'family_members'], ARRAY['families', 'family_members'], :since
    ) AS n
UNION
SELECT h.pco_id FROM pco_landed_since('people/households', :since) AS h
UNION
SELECT h.pco_id FROM people_changed AS c
INNER JOIN pco_landing AS h
    ON
        h.resource = 'people/households'
        AND (h.relationships -> 'people') @> jsonb_build_array(c.person_pco_id)
UNION
SELECT f.pco_id FROM families AS f
WHERE f.updated_at >= :since AND f.pco_id IS NOT NULL
UNION
SELECT f.pco_id FROM family_members AS fm
INNER JOIN families AS f ON fm.family_id = f.id
WHERE fm.updated_at >= :since AND f.pco_id IS NOT NULL
