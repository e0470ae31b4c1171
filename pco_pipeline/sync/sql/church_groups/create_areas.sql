-- New areas go under the "PCO Groups" department (`department_id`).
INSERT INTO church_group (pco_id, parent_id, level, name, description)
SELECT
    s.pco_id,
    :department_id AS parent_id,
    2 AS level,
    s.name,
    s.description
FROM stage_group_areas AS s
WHERE NOT EXISTS (SELECT 1 FROM church_group AS g WHERE g.pco_id = s.pco_id)
ORDER BY s.pco_id ASC
