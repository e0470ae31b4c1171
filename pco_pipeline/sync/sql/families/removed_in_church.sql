-- Pairs "<household>:<person>" the church took out of a linked family (church_deletions, not yet
-- pushed) that PCO's household still lists in this load.
SELECT d.pco_id
FROM church_deletions AS d
INNER JOIN stage_family_members AS s ON d.pco_id = s.pco_id
WHERE d.local_table = 'family_members' AND d.pushed_at IS NULL
