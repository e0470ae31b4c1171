-- A headcount PCO no longer has is deleted (of those in CAST(:scope AS TEXT[]), NULL: all; nothing
-- local points at one). Returns the deleted pco_ids.
DELETE FROM headcounts AS h
WHERE
    (CAST(:scope AS TEXT[]) IS NULL OR h.pco_id = ANY(CAST(:scope AS TEXT[])))
    AND EXISTS (
        SELECT 1 FROM pco_landing AS l
        WHERE l.resource = 'check-ins/headcounts' AND l.pco_id = h.pco_id AND l.removed_at IS NOT NULL
    )
RETURNING h.pco_id
