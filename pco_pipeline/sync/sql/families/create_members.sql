-- A new member's role is derived once (primary contact → head, a child → child, otherwise
-- other); refining it afterwards is the church's. A member the church took out of the family
-- stays out (:kept_out, the pairs "<household>:<person>" whose removal the three-way rule keeps).
-- A pair the family already has is skipped by its primary key, not by a NOT EXISTS over
-- family_members: read row by row while this statement fills the table, that rescanned every
-- member inserted so far (the first families load, 100,000 members: 42 s in this statement).
INSERT INTO family_members (family_id, person_id, role, is_primary_contact)
SELECT
    s.family_id,
    s.person_id,
    CASE WHEN s.is_primary_contact THEN 'head' WHEN s.child THEN 'child' ELSE 'other' END AS role,
    s.is_primary_contact
FROM stage_family_members AS s
WHERE NOT s.pco_id = any(CAST(:kept_out AS TEXT[]))
ON CONFLICT (family_id, person_id) DO NOTHING
