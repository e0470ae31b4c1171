-- Linked people PCO no longer has (removed from its listing, or merged away) become inactive;
-- with :scope (PCO ids), only those. :kept (PCO ids) are removals the church's own edits hold
-- back (a deletion in PCO against an edit at the church is a conflict, not a deactivation).
UPDATE people AS p
SET is_active = FALSE, updated_at = now()
WHERE
    p.is_active
    AND (CAST(:scope AS TEXT[]) IS NULL OR p.pco_id = ANY(CAST(:scope AS TEXT[])))
    AND NOT p.pco_id = ANY(CAST(:kept AS TEXT[]))
    AND p.pco_id IN (
        SELECT l.pco_id FROM pco_landing AS l
        WHERE l.resource = 'people/people' AND l.removed_at IS NOT NULL
        UNION
        SELECT m.normalized ->> 'person_to_remove_id' FROM pco_landing AS m
        WHERE m.resource = 'people/person_mergers' AND m.removed_at IS NULL
    )
