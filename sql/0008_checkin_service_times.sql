-- The check-in mirror's service times and headcounts (PCO Check-Ins event times and headcounts).
-- A check-in event (e.g. "Sunday Kids") runs at service times ("First Service" 9:00, "Second
-- Service" 10:45 each Sunday); a check-in is for one of them, and some attendance is only counted,
-- never checked in (adults in worship: headcounts per attendance type). Read-only mirrors of PCO,
-- like `checkins` rows with source 'pco'.

CREATE TABLE event_times (
    id              BIGSERIAL PRIMARY KEY,
    pco_id          TEXT NOT NULL,
    event_id        BIGINT REFERENCES events (id) ON DELETE SET NULL,   -- its check-in event
    name            TEXT,                                               -- e.g. First Service
    starts_at       TIMESTAMPTZ NOT NULL,
    -- PCO's own counts of the check-ins at this time
    regular_count   INTEGER CHECK (regular_count IS NULL OR regular_count >= 0),
    guest_count     INTEGER CHECK (guest_count IS NULL OR guest_count >= 0),
    volunteer_count INTEGER CHECK (volunteer_count IS NULL OR volunteer_count >= 0),
    pco_removed_at  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX event_times_pco_id_key ON event_times (pco_id);
CREATE INDEX event_times_event_idx ON event_times (event_id, starts_at);

CREATE TABLE headcounts (
    id              BIGSERIAL PRIMARY KEY,
    pco_id          TEXT NOT NULL,
    event_time_id   BIGINT NOT NULL REFERENCES event_times (id) ON DELETE CASCADE,
    attendance_type TEXT,                                               -- e.g. Adults, Overflow
    total           INTEGER NOT NULL CHECK (total >= 0),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX headcounts_pco_id_key ON headcounts (pco_id);
CREATE INDEX headcounts_event_time_idx ON headcounts (event_time_id);

ALTER TABLE checkins ADD COLUMN event_time_id BIGINT REFERENCES event_times (id) ON DELETE SET NULL;
CREATE INDEX checkins_event_time_idx ON checkins (event_time_id);

-- Attendance per service time: who checked in (mirrored and local check-ins linked to the time)
-- and who was counted.
CREATE VIEW service_attendance AS
SELECT t.id AS event_time_id, e.name AS event, t.name AS service, t.starts_at,
       (SELECT count(*) FROM checkins c WHERE c.event_time_id = t.id) AS checked_in,
       COALESCE((SELECT sum(h.total) FROM headcounts h WHERE h.event_time_id = t.id), 0) AS counted,
       (SELECT count(*) FROM checkins c WHERE c.event_time_id = t.id)
           + COALESCE((SELECT sum(h.total) FROM headcounts h WHERE h.event_time_id = t.id), 0) AS attendance
FROM event_times t
LEFT JOIN events e ON e.id = t.event_id
WHERE t.pco_removed_at IS NULL;
