-- 4. Everyone still undecided is a new local person.
INSERT INTO person_match (pco_id, method)
SELECT
    s.pco_id,
    'create' AS method
FROM stage_people AS s
WHERE NOT EXISTS (SELECT 1 FROM person_match AS m WHERE m.pco_id = s.pco_id)
