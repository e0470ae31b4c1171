-- Members PCO took out of its household leave the family (departed_family_members: the pairs
-- "<household>:<person>" of departed_members.sql) unless the three-way rule keeps them (:kept:
-- the church changed them and wins the conflict, or holds it for a person). Returns the pairs.
DELETE FROM family_members AS fm
USING families AS f, people AS p, departed_family_members AS d
WHERE
    fm.family_id = f.id
    AND fm.person_id = p.id
    AND f.pco_id || ':' || p.pco_id = d.pco_id
    AND NOT d.pco_id = any(CAST(:kept AS TEXT[]))
RETURNING d.pco_id
