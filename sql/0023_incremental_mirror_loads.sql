-- Incremental events and check-ins loads (issue 17 item 3, after sql/0021's two-way loads): what
-- an incremental run of the read-only mirrors looks up to find the records something changed for
-- (sync/sql/{events,checkin_events,locations,event_times,headcounts,checkins}/changed_since.sql).
-- Forward-only: never edit this file once applied; add a new numbered file instead.

-- A load rewrites a mirror row the church edited: an incremental run finds such rows by
-- updated_at, which staff's own tools do not set; as for the tables of sql/0013, a trigger
-- moves it when the row changes (a row the church's deletion of its parent changed too).
CREATE TRIGGER events_move_updated_at BEFORE UPDATE ON events
FOR EACH ROW EXECUTE FUNCTION move_updated_at();
CREATE TRIGGER locations_move_updated_at BEFORE UPDATE ON locations
FOR EACH ROW EXECUTE FUNCTION move_updated_at();
CREATE TRIGGER event_times_move_updated_at BEFORE UPDATE ON event_times
FOR EACH ROW EXECUTE FUNCTION move_updated_at();
CREATE TRIGGER headcounts_move_updated_at BEFORE UPDATE ON headcounts
FOR EACH ROW EXECUTE FUNCTION move_updated_at();
CREATE TRIGGER checkins_move_updated_at BEFORE UPDATE ON checkins
FOR EACH ROW EXECUTE FUNCTION move_updated_at();

CREATE INDEX events_updated_at_idx ON events (updated_at);
CREATE INDEX locations_updated_at_idx ON locations (updated_at);
CREATE INDEX event_times_updated_at_idx ON event_times (updated_at);
CREATE INDEX headcounts_updated_at_idx ON headcounts (updated_at);
CREATE INDEX checkins_updated_at_idx ON checkins (updated_at);

-- A person who changed (linked, created, merged) names their check-ins.
CREATE INDEX pco_landing_checkin_person_idx ON pco_landing ((relationships ->> 'person'))
WHERE resource = 'check-ins/check_ins';

-- A renamed attendance type names the headcounts taken under it.
CREATE INDEX pco_landing_headcount_type_idx ON pco_landing ((relationships ->> 'attendance_type'))
WHERE resource = 'check-ins/headcounts';

-- The landed records of one resource whose content changed, or which PCO removed, at or after
-- `since`: where every incremental load's scope starts on PCO's side (sync/sql/<entity>/
-- changed_since.sql). Inlined into the statement that calls it, read through sql/0019's indexes.
CREATE FUNCTION pco_landed_since(landed_resource TEXT, since TIMESTAMPTZ)
RETURNS SETOF PCO_LANDING
LANGUAGE sql STABLE AS $$
    SELECT * FROM pco_landing AS l
    WHERE l.resource = landed_resource AND (l.changed_at >= since OR l.removed_at >= since)
$$;
