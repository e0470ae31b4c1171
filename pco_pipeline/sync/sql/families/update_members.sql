-- Whether a member is the household's primary contact: PCO's only where the three-way rule takes
-- PCO's value (three_way_family_members, classified by sync/load_families.py).
UPDATE family_members AS fm
SET is_primary_contact = d.is_primary_contact__pco, updated_at = now()
FROM stage_family_members AS s
INNER JOIN three_way_family_members AS d ON s.pco_id = d.pco_id
WHERE
    fm.family_id = s.family_id
    AND fm.person_id = s.person_id
    AND d.is_primary_contact__outcome IN ('take_pco', 'conflict_pco_wins')
    AND fm.is_primary_contact IS DISTINCT FROM d.is_primary_contact__pco
