-- The relationships of merged-away people, with the person and related person they move to.
CREATE TEMP TABLE relationship_moves ON COMMIT DROP AS
SELECT
    r.id,
    r.kind,
    coalesce(a.kept_id, r.person_id) AS person_id,
    coalesce(b.kept_id, r.related_person_id) AS related_person_id
FROM relationships AS r
LEFT JOIN merge_map AS a ON r.person_id = a.removed_id
LEFT JOIN merge_map AS b ON r.related_person_id = b.removed_id
WHERE a.removed_id IS NOT NULL OR b.removed_id IS NOT NULL
