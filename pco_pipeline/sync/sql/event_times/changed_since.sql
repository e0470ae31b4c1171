-- The PCO ids of the service times an incremental event times load looks at: its landed record,
-- the church's row (a church deletion of its check-in event changes it too) or a quarantine entry
-- of it changed at or after :since, plus every service time an open quarantine entry names (one
-- whose check-in event was not in the church database waits there). Each part reads an index
-- (sql/0019, sql/0023) or a small table.
SELECT n.pco_id
FROM sync_records_named_since(ARRAY['event_times'], CAST(ARRAY[] AS TEXT[]), :since) AS n
UNION
SELECT l.pco_id FROM pco_landed_since('check-ins/event_times', :since) AS l
UNION
SELECT t.pco_id FROM event_times AS t
WHERE t.updated_at >= :since
