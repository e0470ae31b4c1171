-- A new member's role is derived once (primary contact → head, a child → child, otherwise
-- other); refining it afterwards is the church's. A member the church took out of the family
-- stays out (:kept_out, the pairs "<household>:<person>" whose removal the three-way rule keeps).
INSERT INTO family_members (family_id, person_id, role, is_primary_contact)
SELECT
    s.family_id,
    s.person_id,
    CASE WHEN s.is_primary_contact THEN 'head' WHEN s.child THEN 'child' ELSE 'other' END AS role,
    s.is_primary_contact
FROM stage_family_members AS s
WHERE
    NOT EXISTS (
        SELECT 1 FROM family_members AS fm
        WHERE fm.family_id = s.family_id AND fm.person_id = s.person_id
    )
    AND NOT s.pco_id = any(CAST(:kept_out AS TEXT[]))
