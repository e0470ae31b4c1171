-- Groups PCO no longer has become inactive, marked pco_removed_at.
UPDATE church_group AS g
SET is_active = FALSE, pco_removed_at = now(), updated_at = now()
WHERE
    g.level = 3
    AND g.pco_id IS NOT NULL
    AND g.pco_removed_at IS NULL
    AND EXISTS (
        SELECT 1 FROM pco_landing AS l
        WHERE l.resource = 'groups/groups' AND l.pco_id = g.pco_id AND l.removed_at IS NOT NULL
    )
