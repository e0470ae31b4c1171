-- A new group is placed under its type's area.
INSERT INTO church_group (pco_id, parent_id, level, name, description, meeting_day, is_active)
SELECT
    s.pco_id,
    s.parent_id,
    3 AS level,
    s.name,
    s.description,
    s.meeting_day,
    s.is_active
FROM stage_groups AS s
WHERE NOT EXISTS (SELECT 1 FROM church_group AS g WHERE g.pco_id = s.pco_id)
ORDER BY length(s.pco_id) ASC, s.pco_id ASC
