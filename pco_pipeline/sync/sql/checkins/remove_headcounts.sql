-- A headcount PCO no longer has is deleted (nothing local points at one).
DELETE FROM headcounts AS h
WHERE EXISTS (
    SELECT 1 FROM pco_landing AS l
    WHERE l.resource = 'check-ins/headcounts' AND l.pco_id = h.pco_id AND l.removed_at IS NOT NULL
)
