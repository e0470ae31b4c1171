-- New PCO memberships, unless the person is in the group already.
INSERT INTO group_membership (group_id, person_id, pco_id, leader_type, joined_at, source)
SELECT
    s.group_id,
    s.person_id,
    s.pco_id,
    s.leader_type,
    s.joined_at,
    'pco' AS source
FROM stage_memberships AS s
WHERE
    NOT EXISTS (SELECT 1 FROM group_membership AS gm WHERE gm.pco_id = s.pco_id)
    AND NOT EXISTS (
        SELECT 1 FROM group_membership AS gm
        WHERE gm.group_id = s.group_id AND gm.person_id = s.person_id
    )
ORDER BY length(s.pco_id) ASC, s.pco_id ASC
