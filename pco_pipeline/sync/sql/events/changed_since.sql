-- The PCO ids of the calendar event instances an incremental events load looks at: everything
-- that can change what the load writes for an instance (its landed record; the landed record of
-- its calendar event, which names and describes it and whose landing or removal decides whether
-- it waits in the quarantine; the church's row; a quarantine entry of it) changed at or after
-- :since, plus every instance an open quarantine entry names. Each part reads an index
-- (sql/0003, sql/0019, sql/0023) or a small table.
SELECT n.pco_id
FROM sync_records_named_since(ARRAY['events'], CAST(ARRAY[] AS TEXT[]), :since) AS n
UNION
SELECT i.pco_id FROM pco_landed_since('calendar/event_instances', :since) AS i
UNION
-- An instance's calendar event is its parent: landing sets parent_pco_id from its `event`.
SELECT i.pco_id FROM pco_landed_since('calendar/events', :since) AS ev
INNER JOIN pco_landing AS i
    ON i.resource = 'calendar/event_instances' AND ev.pco_id = i.parent_pco_id
UNION
SELECT e.pco_id FROM events AS e
WHERE e.updated_at >= :since AND e.source = 'calendar' AND e.pco_id IS NOT NULL
