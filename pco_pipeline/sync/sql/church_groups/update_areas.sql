-- Areas (PCO group types) take PCO's name and description, and are active while PCO has them.
UPDATE church_group AS g
SET
    name = s.name,
    description = s.description,
    is_active = TRUE,
    pco_removed_at = NULL,
    updated_at = now()
FROM stage_group_areas AS s
WHERE
    g.pco_id = s.pco_id
    AND (g.name, g.description, g.is_active, g.pco_removed_at IS NULL)
    IS DISTINCT FROM (s.name, s.description, TRUE, TRUE)
