-- Who is a household's primary contact is PCO's.
UPDATE family_members AS fm
SET is_primary_contact = s.is_primary_contact, updated_at = now()
FROM stage_family_members AS s
WHERE
    fm.family_id = s.family_id
    AND fm.person_id = s.person_id
    AND fm.is_primary_contact IS DISTINCT FROM s.is_primary_contact
