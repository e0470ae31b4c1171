-- Pairs "<household>:<person>" the church took out of a linked family (church_deletions, not yet
-- pushed) that PCO's household still lists in this load, unless staff decided a conflict over
-- that member for PCO's side (`conflicts resolve --take pco`: the member comes back).
SELECT d.pco_id
FROM church_deletions AS d
INNER JOIN stage_family_members AS s ON d.pco_id = s.pco_id
WHERE
    d.local_table = 'family_members'
    AND d.pushed_at IS NULL
    AND NOT EXISTS (
        SELECT 1 FROM sync_conflicts AS sc
        WHERE
            sc.entity = 'family_members'
            AND sc.pco_id = d.pco_id
            AND sc.resolution_side = 'pco'
            AND sc.decided_by NOT LIKE 'policy %'
            AND sc.applied_at IS NULL
    )
