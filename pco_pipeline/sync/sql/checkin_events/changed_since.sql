-- The local pco_ids ('check-ins:<id>', as pco_state_checkin_events names them) of the check-in
-- events an incremental check-in events load looks at: its landed record, the church's row or a
-- quarantine entry of it changed at or after :since, plus every event an open quarantine entry
-- names. Each part reads an index (sql/0019, sql/0023) or a small table.
SELECT n.pco_id
FROM sync_records_named_since(ARRAY['checkin_events'], CAST(ARRAY[] AS TEXT[]), :since) AS n
UNION
SELECT 'check-ins:' || l.pco_id FROM pco_landed_since('check-ins/events', :since) AS l
UNION
SELECT e.pco_id FROM events AS e
WHERE e.updated_at >= :since AND e.source = 'check-ins' AND e.pco_id IS NOT NULL
