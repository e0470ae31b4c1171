-- The same person in the same group under another (or no) pco_id: that row is linked. A local
-- membership keeps its own leader type and joined date.
UPDATE group_membership AS gm
SET
    pco_id = s.pco_id,
    leader_type = CASE WHEN gm.source = 'pco' THEN s.leader_type ELSE gm.leader_type END,
    joined_at = CASE WHEN gm.source = 'pco' THEN s.joined_at ELSE gm.joined_at END,
    updated_at = now()
FROM stage_memberships AS s
WHERE
    gm.group_id = s.group_id
    AND gm.person_id = s.person_id
    AND gm.pco_id IS DISTINCT FROM s.pco_id
    -- RF01: the linter does not see the UPDATE's FROM from inside a subquery.
    AND NOT EXISTS (SELECT 1 FROM group_membership AS o WHERE o.pco_id = s.pco_id)  -- noqa: RF01
