-- PCO owns a group's name, description, whether it is active, and its meeting day when PCO's
-- schedule names one; where the group sits is the church's.
UPDATE church_group AS g
SET
    name = s.name,
    description = s.description,
    meeting_day = coalesce(s.meeting_day, g.meeting_day),
    is_active = s.is_active,
    pco_removed_at = NULL,
    updated_at = now()
FROM stage_groups AS s
WHERE
    g.pco_id = s.pco_id
    AND (g.name, g.description, g.meeting_day, g.is_active, g.pco_removed_at IS NULL)
    IS DISTINCT FROM (s.name, s.description, coalesce(s.meeting_day, g.meeting_day), s.is_active, TRUE)
