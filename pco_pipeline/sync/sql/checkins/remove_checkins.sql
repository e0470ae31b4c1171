-- A PCO check-in PCO no longer has is deleted (of those in CAST(:scope AS TEXT[]), NULL: all);
-- check-ins made at the church (source 'local') are never touched. Returns the deleted pco_ids.
DELETE FROM checkins AS c
WHERE
    c.source = 'pco'
    AND (CAST(:scope AS TEXT[]) IS NULL OR c.pco_id = ANY(CAST(:scope AS TEXT[])))
    AND EXISTS (
        SELECT 1 FROM pco_landing AS l
        WHERE l.resource = 'check-ins/check_ins' AND l.pco_id = c.pco_id AND l.removed_at IS NOT NULL
    )
RETURNING c.pco_id
