-- Areas whose PCO group type is removed become inactive, marked pco_removed_at.
UPDATE church_group AS g
SET is_active = FALSE, pco_removed_at = now(), updated_at = now()
WHERE
    g.level = 2
    AND g.pco_removed_at IS NULL
    AND EXISTS (
        SELECT 1 FROM pco_landing AS l
        WHERE
            l.resource = 'groups/group_types'
            AND l.removed_at IS NOT NULL
            AND 'group_type:' || l.pco_id = g.pco_id
    )
