-- A moving relationship between the two merged people goes, and so does one the survivor
-- already has: a relationship that does not move, or an earlier-moved one, with the same
-- person, related person and kind once moved.
WITH after_move AS (
    SELECT
        r.id,
        r.kind,
        m.id IS NOT NULL AS moving,
        coalesce(m.person_id, r.person_id) AS person_id,
        coalesce(m.related_person_id, r.related_person_id) AS related_person_id
    FROM relationships AS r
    LEFT JOIN relationship_moves AS m ON r.id = m.id
)

DELETE FROM relationships AS r
USING relationship_moves AS m
WHERE
    r.id = m.id
    AND (
        m.person_id = m.related_person_id
        OR EXISTS (
            SELECT 1 FROM after_move AS o
            WHERE
                o.person_id = m.person_id
                AND o.related_person_id = m.related_person_id
                AND o.kind = m.kind
                AND (NOT o.moving OR o.id < m.id)
        )
    )
