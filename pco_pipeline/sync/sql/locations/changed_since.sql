-- The PCO ids of the locations an incremental locations load looks at: everything that can change
-- what the load writes for a location (its landed record; the landed record of its parent folder,
-- which it points at only while PCO lists it; the church's row; a quarantine entry of it) changed
-- at or after :since, plus every location an open quarantine entry names. Each part reads an
-- index (sql/0019, sql/0023) or a small table (PCO's locations are few: their children are found
-- among them without an index).
WITH changed AS (
    SELECT l.pco_id FROM pco_landed_since('check-ins/locations', :since) AS l
)

SELECT n.pco_id
FROM sync_records_named_since(ARRAY['locations'], CAST(ARRAY[] AS TEXT[]), :since) AS n
UNION
SELECT changed.pco_id FROM changed
UNION
SELECT child.pco_id FROM changed
INNER JOIN pco_landing AS child
    ON child.resource = 'check-ins/locations' AND (child.relationships ->> 'parent') = changed.pco_id
UNION
SELECT t.pco_id FROM locations AS t
WHERE t.updated_at >= :since AND t.pco_id IS NOT NULL
