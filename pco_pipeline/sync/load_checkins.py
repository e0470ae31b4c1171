"""PCO Calendar and Check-Ins → events, locations and a read-only mirror of check-ins.

- `load_events`: calendar event instances → `events` (source 'calendar', pco_id = instance id),
  named and described by their calendar event.
- `load_checkin_events`: check-in events → `events` (source 'check-ins', pco_id
  'check-ins:<id>'), so mirrored check-ins can point at them.
- `load_locations`: check-in locations → `locations` (kind 'folder' for PCO folders, else
  'room'), with their parent folder.
- `load_event_times`: the service times of check-in events → `event_times`, and the headcounts
  taken at them → `headcounts` (named by their attendance type); the view `service_attendance`
  adds up check-ins and headcounts per service time.
- `load_checkins`: PCO check-ins → `checkins` with source 'pco', linked to their service time.
  Rows with source 'local' (made at the church) are never read, changed or deleted. A PCO
  check-in PCO no longer has is deleted, and so is a headcount.
Events, locations and service times PCO no longer has keep their row (local check-ins may point
at them), marked `pco_removed_at`.

Each of these entities is loaded through its own window (`sync.incremental`, the mechanism the
two-way loads use): with `incremental`, only the records its `sync/sql/<entity>/changed_since.sql`
names since its last committed load; a full run after an earlier one is its drift check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sqlalchemy as sa

from pco_pipeline.sync import pco_state, quarantine
from pco_pipeline.sync.incremental import WRITTEN_HERE, WindowedReport, close_window, count_drifted, open_window
from pco_pipeline.sync.loading import LoadCounts, Staging, begin_load, count, invalid_data, missing_parent, stage_checked
from pco_pipeline.sync.statements import statement

# One entity's load within its window: given the scope (None: every landed record), its counts,
# how many records it staged, and the keys of the records it deleted.
_ScopedLoad = Callable[[sa.Connection, Sequence[str] | None], tuple[LoadCounts, int, list[str]]]


def _load_in_window(conn: sa.Connection, entity: str, changed_since: str, load: _ScopedLoad, written_sql: str, *,
                    incremental: bool) -> WindowedReport:
    """Run `load` for `entity` (its quarantine entity too) within the window `incremental.open_window`
    opens from the statement `changed_since`, and close it; `written_sql` selects the keys of the
    entity's church rows this transaction wrote (`incremental.WRITTEN_HERE`): a drift check counts
    them, the records deleted and the quarantine entries written outside the window's scope."""
    window = open_window(conn, entity, changed_since, incremental=incremental)
    counts, staged, deleted = load(conn, window.scope)
    quarantine.apply_stage(conn, entity, scope=window.scope)
    drifted = count_drifted(conn, window, f"""{written_sql}
        UNION ALL SELECT q.record_key FROM sync_quarantine q
        WHERE q.entity = '{entity}' AND {WRITTEN_HERE.format('q')}""", deleted)
    close_window(conn, window, drifted)
    return WindowedReport({entity: counts}, window, staged, drifted)


def _written(table: str, where: str) -> str:
    """The pco_ids of the rows of `table` (alias t) matching `where` that this transaction wrote."""
    return f"SELECT t.pco_id FROM {table} t WHERE {where} AND {WRITTEN_HERE.format('t')}"


# SQL limiting a church table (alias t) to the records in :scope (NULL: every record).
_IN_SCOPE = "(CAST(:scope AS text[]) IS NULL OR t.pco_id = ANY(CAST(:scope AS text[])))"


def _upsert(conn: sa.Connection, table: str, stage_name: str, fields: tuple[str, ...],
            fixed: dict[str, str] | None = None) -> tuple[int, int]:
    """Update rows of `table` whose `fields` (or `fixed` column values) differ from the stage, by
    pco_id; insert the missing ones. Returns (created, updated)."""
    fixed = fixed or {}
    assignments = [f"{f} = s.{f}" for f in fields] + [f"{c} = {v}" for c, v in fixed.items()]
    local = [f"t.{f}" for f in fields] + [f"t.{c}" for c in fixed]
    staged = [f"s.{f}" for f in fields] + list(fixed.values())
    updated = count(conn, f"""
        UPDATE {table} t SET {', '.join(assignments)}, pco_removed_at = NULL, updated_at = now()
        FROM {stage_name} s
        WHERE t.pco_id = s.pco_id
          AND ({', '.join(local)}, t.pco_removed_at IS NULL) IS DISTINCT FROM ({', '.join(staged)}, true)
        """)
    created = count(conn, f"""
        INSERT INTO {table} (pco_id, {', '.join([*fields, *fixed])})
        SELECT s.pco_id, {', '.join(staged)} FROM {stage_name} s
        WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.pco_id = s.pco_id)
        ORDER BY length(s.pco_id), s.pco_id
        """)
    return created, updated


def _mark_removed(conn: sa.Connection, table: str, where: str, landing_resource: str, landing_id: str,
                  scope: Sequence[str] | None) -> int:
    """Rows (of the records in `scope`; None: every one) whose PCO record the landing table shows
    as removed get `pco_removed_at`."""
    return count(conn, f"""
        UPDATE {table} t SET pco_removed_at = now(), updated_at = now()
        WHERE t.pco_id IS NOT NULL AND t.pco_removed_at IS NULL AND {where} AND {_IN_SCOPE}
          AND EXISTS (SELECT 1 FROM pco_landing l WHERE l.resource = '{landing_resource}'
                        AND l.pco_id = {landing_id} AND l.removed_at IS NOT NULL)
        """, {"scope": None if scope is None else list(scope)})


EVENT_FIELDS = ("name", "description", "starts_at", "ends_at", "all_day", "location")
EVENTS = Staging(
    entity="events", state_sql=pco_state.EVENTS, landing="calendar/event_instances",
    rejections=(missing_parent("NOT s.has_event",
                               "'PCO event instance ' || s.pco_id || ' belongs to calendar event '"
                               " || COALESCE(s.event_pco_id, '(none)') || ', which has not been landed'"),
                invalid_data("event instance")))


def load_events(engine: sa.Engine, *, incremental: bool = False) -> WindowedReport:
    """Calendar event instances → `events`; returns counts for `events`. With `incremental`, only
    the instances something changed for since the last committed load, as `incremental.open_window`
    decides (`sql/events/changed_since.sql`: a renamed calendar event names its instances)."""
    with engine.begin() as conn:
        begin_load(conn, "events")
        return _load_in_window(conn, "events", "events/changed_since", _load_calendar_events,
                               _written("events", "t.source = 'calendar'"), incremental=incremental)


def _load_calendar_events(conn: sa.Connection, scope: Sequence[str] | None) -> tuple[LoadCounts, int, list[str]]:
    counts, staged = stage_checked(conn, EVENTS, scope=scope)
    counts.created, counts.updated = _upsert(conn, "events", "stage_events", EVENT_FIELDS, {"source": "'calendar'"})
    counts.settle(staged)
    counts.deactivated = _mark_removed(conn, "events", "t.source = 'calendar'", "calendar/event_instances",
                                       "t.pco_id", scope)
    return counts, staged, []


# A check-in event's landed id, from its local pco_id ('check-ins:<id>') in `alias`.
def _checkin_event_landed_id(alias: str) -> str:
    return f"substr({alias}.pco_id, {len(pco_state.CHECKIN_EVENT_PREFIX) + 1})"


CHECKIN_EVENTS = Staging(entity="checkin_events", state_sql=pco_state.CHECKIN_EVENTS, landing="check-ins/events",
                         landing_id_sql=_checkin_event_landed_id("s"), rejections=(invalid_data("check-in event"),))


def load_checkin_events(conn: sa.Connection, scope: Sequence[str] | None) -> tuple[LoadCounts, int, list[str]]:
    """Check-in events (those in `scope`, by local pco_id; None: every one) → `events`."""
    counts, staged = stage_checked(conn, CHECKIN_EVENTS, scope=scope)
    counts.created, counts.updated = _upsert(conn, "events", "stage_checkin_events", ("name",),
                                             {"source": "'check-ins'"})
    counts.settle(staged)
    counts.deactivated = _mark_removed(conn, "events", "t.source = 'check-ins'", "check-ins/events",
                                       _checkin_event_landed_id("t"), scope)
    return counts, staged, []


LOCATION_FIELDS = ("name", "kind", "age_min_months", "age_max_months", "grade_min", "grade_max", "capacity")


LOCATIONS = Staging(entity="locations", state_sql=pco_state.LOCATIONS, landing="check-ins/locations",
                    rejections=(invalid_data("location"),))


def load_locations(conn: sa.Connection, scope: Sequence[str] | None) -> tuple[LoadCounts, int, list[str]]:
    """Locations (those in `scope`; None: every one) → `locations`, with their parent folder."""
    counts, staged = stage_checked(conn, LOCATIONS, scope=scope)
    fields = ", ".join(LOCATION_FIELDS)
    # New locations first, so a folder and its rooms landed in the same run can point at each other.
    created = set(conn.execute(sa.text(f"""
        INSERT INTO locations (pco_id, {fields})
        SELECT s.pco_id, {', '.join('s.' + f for f in LOCATION_FIELDS)} FROM stage_locations s
        WHERE NOT EXISTS (SELECT 1 FROM locations t WHERE t.pco_id = s.pco_id)
        ORDER BY length(s.pco_id), s.pco_id
        RETURNING pco_id""")).scalars())
    updated = set(conn.execute(sa.text(f"""
        UPDATE locations t SET {', '.join(f + ' = s.' + f for f in LOCATION_FIELDS)}, parent_id = parent.id,
                               pco_removed_at = NULL, updated_at = now()
        FROM stage_locations s LEFT JOIN locations parent ON parent.pco_id = s.parent_pco_id
        WHERE t.pco_id = s.pco_id
          AND ({', '.join('t.' + f for f in LOCATION_FIELDS)}, t.parent_id, t.pco_removed_at IS NULL)
              IS DISTINCT FROM ({', '.join('s.' + f for f in LOCATION_FIELDS)}, parent.id, true)
        RETURNING t.pco_id""")).scalars())
    counts.created = len(created)
    counts.updated = len(updated - created)
    counts.settle(staged)
    counts.deactivated = _mark_removed(conn, "locations", "TRUE", "check-ins/locations", "t.pco_id", scope)
    return counts, staged, []


EVENT_TIME_FIELDS = ("event_id", "name", "starts_at", "regular_count", "guest_count", "volunteer_count")
EVENT_TIMES = Staging(
    entity="event_times", state_sql=pco_state.EVENT_TIMES, landing="check-ins/event_times",
    columns="e.id AS event_id", joins="LEFT JOIN events e ON e.pco_id = s.event_pco_id AND e.source = 'check-ins'",
    rejections=(invalid_data("event time"),
                missing_parent("s.event_pco_id IS NOT NULL AND s.event_id IS NULL",
                               "'PCO event time ' || s.pco_id || ' belongs to check-in event ' || s.event_pco_id"
                               " || ', not in the church database'")))


def load_event_times(conn: sa.Connection, scope: Sequence[str] | None) -> tuple[LoadCounts, int, list[str]]:
    """Service times of check-in events (those in `scope`; None: every one) → `event_times` (after
    the check-in events are loaded)."""
    counts, staged = stage_checked(conn, EVENT_TIMES, scope=scope)
    counts.created, counts.updated = _upsert(conn, "event_times", "stage_event_times", EVENT_TIME_FIELDS)
    counts.settle(staged)
    counts.deactivated = _mark_removed(conn, "event_times", "TRUE", "check-ins/event_times", "t.pco_id", scope)
    return counts, staged, []


HEADCOUNT_FIELDS = ("event_time_id", "attendance_type", "total")
HEADCOUNTS = Staging(
    entity="headcounts", state_sql=pco_state.HEADCOUNTS, landing="check-ins/headcounts", columns="t.id AS event_time_id",
    joins="LEFT JOIN event_times t ON t.pco_id = s.event_time_pco_id",
    rejections=(invalid_data("headcount"),
                missing_parent("s.event_time_id IS NULL", "'PCO headcount ' || s.pco_id || ' was taken at event time '"
                               " || COALESCE(s.event_time_pco_id, '(none)') || ', not in the church database'")))


def load_headcounts(conn: sa.Connection, scope: Sequence[str] | None) -> tuple[LoadCounts, int, list[str]]:
    """Headcounts (those in `scope`; None: every one) → `headcounts` (after the service times); one
    PCO no longer has is deleted."""
    counts, staged = stage_checked(conn, HEADCOUNTS, scope=scope)
    fields = ", ".join(HEADCOUNT_FIELDS)
    staged_fields = ", ".join(f"s.{f}" for f in HEADCOUNT_FIELDS)
    counts.updated = count(conn, f"""
        UPDATE headcounts h SET {', '.join(f'{f} = s.{f}' for f in HEADCOUNT_FIELDS)}, updated_at = now()
        FROM stage_headcounts s
        WHERE h.pco_id = s.pco_id AND ({', '.join('h.' + f for f in HEADCOUNT_FIELDS)}) IS DISTINCT FROM ({staged_fields})
        """)
    counts.created = count(conn, f"""
        INSERT INTO headcounts (pco_id, {fields})
        SELECT s.pco_id, {staged_fields} FROM stage_headcounts s
        WHERE NOT EXISTS (SELECT 1 FROM headcounts h WHERE h.pco_id = s.pco_id)
        ORDER BY length(s.pco_id), s.pco_id
        """)
    counts.settle(staged)
    deleted = _deleted(conn, "checkins/remove_headcounts", scope)
    counts.deactivated = len(deleted)
    return counts, staged, deleted


def _deleted(conn: sa.Connection, name: str, scope: Sequence[str] | None) -> list[str]:
    """Run the named deletion over the records in `scope` (None: every one); the keys it deleted."""
    return list(conn.execute(statement(name), {"scope": None if scope is None else list(scope)}).scalars())


CHECKIN_FIELDS = ("person_id", "event_id", "location_id", "event_time_id", "first_name", "last_name", "kind",
                  "security_code", "checked_in_at", "checked_out_at")
# The local rows a check-in points at, each missing one named (a NULL when none is missing).
_CHECKIN_PARENTS = (("person", "person"), ("event", "event"), ("location", "location"), ("event_time", "event time"))
_MISSING_CHECKIN_PARENT = " OR ".join(f"(s.{p}_pco_id IS NOT NULL AND s.{p}_id IS NULL)" for p, _ in _CHECKIN_PARENTS)
CHECKINS = Staging(
    entity="checkins", state_sql=pco_state.CHECKINS, landing="check-ins/check_ins",
    columns="p.id AS person_id, e.id AS event_id, l.id AS location_id, t.id AS event_time_id",
    joins="LEFT JOIN people p ON p.pco_id = s.person_pco_id"
          " LEFT JOIN events e ON e.pco_id = s.event_pco_id AND e.source = 'check-ins'"
          " LEFT JOIN locations l ON l.pco_id = s.location_pco_id"
          " LEFT JOIN event_times t ON t.pco_id = s.event_time_pco_id",
    rejections=(
        invalid_data("check-in"),
        missing_parent(
            _MISSING_CHECKIN_PARENT,
            "'PCO check-in ' || s.pco_id || ' refers to ' || concat_ws(', ', "
            + ", ".join(f"CASE WHEN s.{p}_pco_id IS NOT NULL AND s.{p}_id IS NULL THEN '{what} ' || s.{p}_pco_id END"
                        for p, what in _CHECKIN_PARENTS)
            + ") || ', not in the church database'",
            "jsonb_build_object(" + ", ".join(f"'{p}', s.{p}_pco_id" for p, _ in _CHECKIN_PARENTS) + ")")))


def load_checkins(engine: sa.Engine, *, incremental: bool = False) -> WindowedReport:
    """Check-in events, locations, service times and headcounts, then PCO check-ins, each within its
    window (with `incremental`, only the records something changed for since its last committed
    load); returns counts for each and the windows' facts together."""
    with engine.begin() as conn:
        begin_load(conn, "checkins")
        loads: tuple[tuple[str, str, _ScopedLoad, str], ...] = (
            ("checkin_events", "checkin_events/changed_since", load_checkin_events,
             _written("events", "t.source = 'check-ins'")),
            ("locations", "locations/changed_since", load_locations, _written("locations", "t.pco_id IS NOT NULL")),
            ("event_times", "event_times/changed_since", load_event_times, _written("event_times", "TRUE")),
            ("headcounts", "headcounts/changed_since", load_headcounts, _written("headcounts", "TRUE")),
            ("checkins", "checkins/changed_since", _load_pco_checkins, _written("checkins", "t.source = 'pco'")))
        return WindowedReport.combined([_load_in_window(conn, *each, incremental=incremental) for each in loads])


def _load_pco_checkins(conn: sa.Connection, scope: Sequence[str] | None) -> tuple[LoadCounts, int, list[str]]:
    """PCO check-ins (those in `scope`; None: every one) → `checkins` (after their parents)."""
    counts, staged = stage_checked(conn, CHECKINS, scope=scope)
    set_fields = ", ".join(f"{f} = s.{f}" for f in CHECKIN_FIELDS)
    counts.updated = count(conn, f"""
        UPDATE checkins c SET {set_fields}, updated_at = now()
        FROM stage_checkins s
        WHERE c.pco_id = s.pco_id AND c.source = 'pco'
          AND ({', '.join('c.' + f for f in CHECKIN_FIELDS)}) IS DISTINCT FROM ({', '.join('s.' + f for f in CHECKIN_FIELDS)})
        """)
    counts.created = count(conn, f"""
        INSERT INTO checkins (pco_id, source, {', '.join(CHECKIN_FIELDS)})
        SELECT s.pco_id, 'pco', {', '.join('s.' + f for f in CHECKIN_FIELDS)} FROM stage_checkins s
        WHERE NOT EXISTS (SELECT 1 FROM checkins c WHERE c.pco_id = s.pco_id)
        ORDER BY s.checked_in_at, length(s.pco_id), s.pco_id
        """)
    counts.settle(staged)
    deleted = _deleted(conn, "checkins/remove_checkins", scope)
    counts.deactivated = len(deleted)
    return counts, staged, deleted
