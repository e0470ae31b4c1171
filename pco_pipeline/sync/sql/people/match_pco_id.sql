-- 1. A local person carries the PCO id.
INSERT INTO person_match (pco_id, person_id, method)
SELECT
    s.pco_id,
    p.id AS person_id,
    'pco_id' AS method
FROM stage_people AS s
INNER JOIN people AS p ON s.pco_id = p.pco_id
