-- The PCO ids of the headcounts an incremental headcounts load looks at: everything that can
-- change what the load writes for a headcount (its landed record; the landed attendance type that
-- names it; the church's row; a quarantine entry of it) changed at or after :since, plus every
-- headcount an open quarantine entry names (one whose service time was not in the church database
-- waits there). Each part reads an index (sql/0019, sql/0023) or a small table.
SELECT n.pco_id
FROM sync_records_named_since(ARRAY['headcounts'], CAST(ARRAY[] AS TEXT[]), :since) AS n
UNION
SELECT l.pco_id FROM pco_landed_since('check-ins/headcounts', :since) AS l
UNION
SELECT h.pco_id FROM pco_landed_since('check-ins/attendance_types', :since) AS a
INNER JOIN pco_landing AS h
    ON h.resource = 'check-ins/headcounts' AND (h.relationships ->> 'attendance_type') = a.pco_id
UNION
SELECT h.pco_id FROM headcounts AS h
WHERE h.updated_at >= :since
