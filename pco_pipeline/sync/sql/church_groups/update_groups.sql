-- PCO owns whether a group is active and its meeting day when PCO's schedule names one; where the
-- group sits is the church's. Name and description take PCO's value only where the load's
-- three-way rule (the temp table three_way_church_groups, `three_way_load.classify`) says PCO
-- changed them since the base; a church edit is kept.
UPDATE church_group AS g
SET
    name = CASE WHEN d.name__outcome IN ('take_pco', 'conflict_pco_wins') THEN s.name ELSE g.name END,
    description = CASE
        WHEN d.description__outcome IN ('take_pco', 'conflict_pco_wins') THEN s.description ELSE g.description
    END,
    meeting_day = coalesce(s.meeting_day, g.meeting_day),
    is_active = s.is_active,
    pco_removed_at = NULL,
    updated_at = now()
FROM stage_groups AS s
INNER JOIN three_way_church_groups AS d ON s.pco_id = d.pco_id
WHERE
    g.pco_id = s.pco_id
    AND g.level = 3
    AND (g.name, g.description, g.meeting_day, g.is_active, g.pco_removed_at IS NULL)
    IS DISTINCT FROM (
        CASE WHEN d.name__outcome IN ('take_pco', 'conflict_pco_wins') THEN s.name ELSE g.name END,
        CASE WHEN d.description__outcome IN ('take_pco', 'conflict_pco_wins') THEN s.description ELSE g.description END,
        coalesce(s.meeting_day, g.meeting_day), s.is_active, TRUE
    )
