-- A PCO check-in PCO no longer has is deleted; check-ins made at the church (source 'local')
-- are never touched.
DELETE FROM checkins AS c
WHERE
    c.source = 'pco'
    AND EXISTS (
        SELECT 1 FROM pco_landing AS l
        WHERE l.resource = 'check-ins/check_ins' AND l.pco_id = c.pco_id AND l.removed_at IS NOT NULL
    )
