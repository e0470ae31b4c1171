-- The PCO ids of the check-ins an incremental check-ins load looks at: everything that can change
-- what the load writes for a check-in (its landed record; the church row of its person, e.g. a
-- person linked, merged or unlinked since; the church's row, which a church deletion of its
-- person, event, location or service time changes too; a quarantine entry of it) changed at or
-- after :since, plus every check-in an open quarantine entry names (one whose person, event,
-- location or service time was not in the church database waits there). Each part reads an index
-- (sql/0001, sql/0019, sql/0023) or a small table.
WITH people_changed AS (
    SELECT
        p.id,
        p.pco_id
    FROM people AS p
    WHERE p.updated_at >= :since
)

SELECT n.pco_id
FROM sync_records_named_since(ARRAY['checkins'], CAST(ARRAY[] AS TEXT[]), :since) AS n
UNION
SELECT l.pco_id FROM pco_landed_since('check-ins/check_ins', :since) AS l
UNION
SELECT c.pco_id FROM checkins AS c
WHERE c.updated_at >= :since AND c.source = 'pco'
UNION
-- PCO's check-ins of a person who changed, and the mirrored ones the church links to them.
SELECT l.pco_id FROM people_changed AS p
INNER JOIN pco_landing AS l
    ON l.resource = 'check-ins/check_ins' AND (l.relationships ->> 'person') = p.pco_id
UNION
SELECT c.pco_id FROM people_changed AS p
INNER JOIN checkins AS c ON p.id = c.person_id
WHERE c.source = 'pco'
