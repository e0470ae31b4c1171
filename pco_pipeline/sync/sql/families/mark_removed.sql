-- Households PCO no longer has keep their family, marked pco_removed_at (of the households in
-- :scope, an incremental load's; NULL: every family).
UPDATE families AS f
SET pco_removed_at = now(), updated_at = now()
WHERE
    f.pco_id IS NOT NULL
    AND f.pco_removed_at IS NULL
    AND (CAST(:scope AS TEXT[]) IS NULL OR f.pco_id = any(CAST(:scope AS TEXT[])))
    AND EXISTS (
        SELECT 1 FROM pco_landing AS l
        WHERE l.resource = 'people/households' AND l.pco_id = f.pco_id AND l.removed_at IS NOT NULL
    )
