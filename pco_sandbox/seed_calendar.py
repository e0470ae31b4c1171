"""The Calendar app of the synthetic church: events (approved, pending, rejected; public and
internal) and their instances — weekly and monthly series from eight weeks back to eight weeks
ahead, plus one-off and all-day events.

Instances are the one place where times after `now` appear: a calendar lists what is coming.
Every created_at / updated_at is still before `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pco_sandbox.seed_people import ORGANIZATION, PeopleApp
from pco_sandbox.seed_support import UTC, IdSequence, between, iso, stream, to_one

WINDOW_WEEKS = 8
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class _Series:
    name: str
    weekday: int                    # Mon=0
    start: time
    minutes: int
    location: str
    recurrence: str                 # Weekly | Monthly (first <weekday> of the month)
    public: bool = True
    approval: str = "A"


_SERIES = (
    _Series("Sunday Worship Services", 6, time(8, 30), 240, "Main Auditorium", "Weekly"),
    _Series("Wednesday Night Dinner", 2, time(17, 30), 75, "Fellowship Hall", "Weekly"),
    _Series("Student Ministry", 2, time(18, 30), 90, "Student Center", "Weekly"),
    _Series("Women's Bible Study", 3, time(9, 30), 90, "Room 204", "Weekly"),
    _Series("Staff Meeting", 1, time(10, 0), 90, "Conference Room", "Weekly", public=False),
    _Series("Men's Breakfast", 5, time(7, 0), 90, "Fellowship Hall", "Monthly"),
    _Series("Elder Board Meeting", 0, time(19, 0), 120, "Conference Room", "Monthly", public=False, approval="P"),
)

# name, days from now (negative = past), local start, minutes (None = all day, days), location, approval
_ONE_OFFS = (
    ("Fall Festival", -20, time(16, 0), 180, "Parking Lot", "A"),
    ("Baptism Sunday", -34, time(12, 30), 60, "Main Auditorium", "A"),
    ("Blood Drive", -9, time(10, 0), 360, "Fellowship Hall", "A"),
    ("Thanksgiving Community Meal", 25, time(11, 30), 150, "Fellowship Hall", "A"),
    ("Christmas Eve Candlelight Services", 53, time(16, 0), 300, "Main Auditorium", "A"),
    ("Marriage Retreat", 12, None, 2, "Lake Springfield Lodge", "A"),
    ("Youth Lock-In", 18, time(20, 0), 720, "Student Center", "R"),
    ("Church Picnic", -60, None, 1, "Washington Park", "A"),
)


def generate_calendar(app: PeopleApp, seed: int, now: datetime) -> dict[str, list[dict]]:
    rng = stream(seed, "calendar")
    zone = ZoneInfo(ORGANIZATION["time_zone"])
    staff = [p.id for p in app.people if p.people_permissions] or [p.id for p in app.people[:1]]
    event_ids = IdSequence(9_100_001, stream(seed, "calendar-event-ids"), gap_rate=0.05)
    events: list[dict] = []
    instances: list[tuple[datetime, dict]] = []
    today = now.astimezone(zone).date()

    def event(name: str, approval: str, public: bool, created: datetime) -> str:
        event_id = event_ids.next()
        owner = rng.choice(staff) if staff else None
        summary = f"{name} at Grace Community Church."
        events.append({
            "type": "Event", "id": event_id,
            "attributes": {
                "approval_status": approval, "created_at": iso(created),
                "description": f"<div>{summary} Everyone is welcome.</div>" if public else None,
                "featured": public and rng.random() < 0.2,
                "image_url": f"https://images.example.com/calendar/{event_id}.jpg" if public and rng.random() < 0.5 else None,
                "name": name, "percent_approved": 100 if approval == "A" else 0,
                "percent_rejected": 100 if approval == "R" else 0,
                "registration_url": f"https://grace.churchcenter.com/registrations/events/{event_id}"
                if public and rng.random() < 0.25 else None,
                "summary": summary if public else None,
                "updated_at": iso(between(rng, created, now - timedelta(hours=2))),
                "visible_in_church_center": public and approval == "A",
            },
            "relationships": {"owner": to_one("Person", owner)},
        })
        return event_id

    def instance(event_id: str, name_location: str, starts: datetime, ends: datetime, all_day: bool,
                 created: datetime, recurrence: str | None, description: str | None, compact: str | None) -> None:
        row = {
            "type": "EventInstance", "id": "",
            "attributes": {
                "all_day_event": all_day, "compact_recurrence_description": compact,
                "created_at": iso(created), "ends_at": iso(ends), "location": name_location,
                "recurrence": recurrence, "recurrence_description": description, "starts_at": iso(starts),
                "updated_at": iso(created if rng.random() < 0.9 else between(rng, created, now - timedelta(hours=1))),
                "church_center_url": f"https://grace.churchcenter.com/calendar/event/{event_id}",
                "published_starts_at": iso(starts), "published_ends_at": iso(ends),
            },
            "relationships": {"event": to_one("Event", event_id)},
        }
        instances.append((created, row))

    window_start = today - timedelta(weeks=WINDOW_WEEKS)
    window_end = today + timedelta(weeks=WINDOW_WEEKS)
    for series in _SERIES:
        created = now - timedelta(days=rng.randint(200, 900), seconds=rng.randint(0, 86_399))
        event_id = event(series.name, series.approval, series.public, created)
        day_name = _WEEKDAY_NAMES[series.weekday]
        if series.recurrence == "Weekly":
            description, compact = f"Every week on {day_name}", f"Weekly on {day_name[:3]}"
            days = [d for d in _dates(window_start, window_end) if d.weekday() == series.weekday]
        else:
            description, compact = f"Monthly on the first {day_name}", f"Monthly on 1st {day_name[:3]}"
            days = [d for d in _dates(window_start, window_end) if d.weekday() == series.weekday and d.day <= 7]
        for day in days:
            starts = datetime.combine(day, series.start, tzinfo=zone).astimezone(UTC)
            instance(event_id, series.location, starts, starts + timedelta(minutes=series.minutes), False,
                     created + timedelta(seconds=5), series.recurrence, description, compact)
    for name, offset, start, length, location, approval in _ONE_OFFS:
        day = today + timedelta(days=offset)
        created = now - timedelta(days=max(30, -offset + rng.randint(20, 90)), seconds=rng.randint(0, 86_399))
        event_id = event(name, approval, approval != "R", created)
        if start is None:  # all day, `length` days
            starts = datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)
            ends = datetime.combine(day + timedelta(days=length - 1), time(23, 59, 59), tzinfo=zone).astimezone(UTC)
            instance(event_id, location, starts, ends, True, created + timedelta(minutes=2), None, None, None)
        else:
            starts = datetime.combine(day, start, tzinfo=zone).astimezone(UTC)
            instance(event_id, location, starts, starts + timedelta(minutes=length), False,
                     created + timedelta(minutes=2), None, None, None)

    instance_ids = IdSequence(120_000_001, stream(seed, "calendar-instance-ids"), gap_rate=0.01)
    ordered = [row for _, row in sorted(instances, key=lambda t: (t[0], t[1]["attributes"]["starts_at"]))]
    for row in ordered:
        row["id"] = instance_ids.next()
    return {"calendar/events": events, "calendar/event_instances": ordered}


def _dates(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
