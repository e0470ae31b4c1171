-- Households PCO no longer has keep their family, marked pco_removed_at.
UPDATE families AS f
SET pco_removed_at = now(), updated_at = now()
WHERE
    f.pco_id IS NOT NULL
    AND f.pco_removed_at IS NULL
    AND EXISTS (
        SELECT 1 FROM pco_landing AS l
        WHERE l.resource = 'people/households' AND l.pco_id = f.pco_id AND l.removed_at IS NOT NULL
    )
