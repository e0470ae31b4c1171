-- The PCO ids of the households an incremental families load looks at: everything that can change
-- what the load writes for a household (its landed record; a landed address, the church row or
-- a church deletion of one of its people; the church's family or members; a base, a church
-- deletion, a conflict or a quarantine entry of the family or of one of its members) changed at
-- or after :since, plus every household an unapplied conflict or an open quarantine entry names
-- (deciding or re-checking them is every run's work). Each part reads an index (sql/0019,
-- sql/0021) or a small table.
WITH named AS (
    -- Records by entity: a household, or a member "<household>:<person>".
    SELECT b.pco_id
    FROM sync_base AS b
    WHERE
        b.entity IN ('families', 'family_members')
        AND b.agreed_at >= :since
    UNION ALL
    SELECT d.pco_id
    FROM church_deletions AS d
    WHERE
        d.local_table IN ('families', 'family_members')
        AND (d.deleted_at >= :since OR d.pushed_at >= :since)
    UNION ALL
    -- Conflicts and quarantine entries still open, or closed since.
    SELECT e.pco_id
    FROM (
        SELECT
            sc.entity,
            sc.pco_id,
            sc.applied_at AS closed_at
        FROM sync_conflicts AS sc
        UNION ALL
        SELECT
            q.entity,
            q.record_key,
            q.resolved_at
        FROM sync_quarantine AS q
    ) AS e
    WHERE
        e.entity IN ('families', 'family_members')
        AND (e.closed_at IS NULL OR e.closed_at >= :since)
),

people_changed AS (
    -- People whose change can change a household's address or members.
    SELECT a.parent_pco_id AS person_pco_id
    FROM pco_landing AS a
    WHERE
        a.resource = 'people/addresses'
        AND (a.changed_at >= :since OR a.removed_at >= :since)
        AND a.parent_pco_id IS NOT NULL
    UNION
    SELECT p.pco_id FROM people AS p
    WHERE p.updated_at >= :since AND p.pco_id IS NOT NULL
    UNION
    SELECT d.pco_id FROM church_deletions AS d
    WHERE d.local_table = 'people' AND (d.deleted_at >= :since OR d.pushed_at >= :since)
)

SELECT split_part(named.pco_id, ':', 1) AS household FROM named
UNION
SELECT h.pco_id FROM pco_landing AS h
WHERE
    h.resource = 'people/households'
    AND (h.changed_at >= :since OR h.removed_at >= :since)
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
