-- A moving relationship between the two merged people, or one the survivor already has (or
-- gets from an earlier move), goes.
DELETE FROM relationships AS r
USING relationship_moves AS m
WHERE
    r.id = m.id
    AND (
        m.person_id = m.related_person_id
        OR EXISTS (
            SELECT 1 FROM relationships AS o
            WHERE
                o.person_id = m.person_id
                AND o.related_person_id = m.related_person_id
                AND o.kind = m.kind
                AND o.id NOT IN (SELECT rm.id FROM relationship_moves AS rm)
        )
        OR EXISTS (
            SELECT 1 FROM relationship_moves AS o
            WHERE
                o.person_id = m.person_id
                AND o.related_person_id = m.related_person_id
                AND o.kind = m.kind
                AND o.id < m.id
        )
    )
