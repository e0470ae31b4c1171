-- PCO-linked people no longer in a present (and valid) PCO household leave its family; the
-- church's own members (no pco_id) stay.
DELETE FROM family_members AS fm
USING families AS f, people AS p
WHERE
    fm.family_id = f.id
    AND fm.person_id = p.id
    AND f.pco_id IS NOT NULL
    AND p.pco_id IS NOT NULL
    AND EXISTS (
        SELECT 1 FROM pco_landing AS h
        WHERE
            h.resource = 'people/households'
            AND h.pco_id = f.pco_id
            AND h.removed_at IS NULL
            AND h.normalized -> 'problems' = CAST('[]' AS JSONB)
    )
    AND NOT EXISTS (
        SELECT 1 FROM stage_family_members AS s
        WHERE s.family_id = fm.family_id AND s.person_id = fm.person_id
    )
