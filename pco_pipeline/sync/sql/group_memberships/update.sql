-- The sync's own memberships follow PCO entirely.
UPDATE group_membership AS gm
SET
    group_id = s.group_id,
    person_id = s.person_id,
    leader_type = s.leader_type,
    joined_at = s.joined_at,
    updated_at = now()
FROM stage_memberships AS s
WHERE
    gm.pco_id = s.pco_id
    AND gm.source = 'pco'
    AND (gm.group_id, gm.person_id, gm.leader_type, gm.joined_at)
    IS DISTINCT FROM (s.group_id, s.person_id, s.leader_type, s.joined_at)
