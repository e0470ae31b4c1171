-- 1. No local person carries the PCO id, but one carries the id of a record PCO merged into it
-- (lowest local id if several).
INSERT INTO person_match (pco_id, person_id, method)
SELECT DISTINCT ON (s.pco_id)
    s.pco_id,
    p.id AS person_id,
    'pco_id_merged' AS method
FROM stage_people AS s
INNER JOIN pco_state_merge_survivors AS v ON s.pco_id = v.kept
INNER JOIN people AS p ON v.removed = p.pco_id
WHERE NOT EXISTS (SELECT 1 FROM person_match AS m WHERE m.pco_id = s.pco_id)
ORDER BY s.pco_id ASC, p.id ASC
