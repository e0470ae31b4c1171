"""The Check-Ins app of the synthetic church: events, their periods and times, folders and rooms
with age/grade ranges, stations, labels, attendance types, several weeks of check-ins (regulars,
guests with and without a person record, volunteers) and worship headcounts.

Service times are scheduled in the organization's time zone and stored in UTC, so the
daylight-saving change moves them in UTC as it does for a real church.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pco_sandbox import seed_vocab as vocab
from pco_sandbox.seed_people import ORGANIZATION, PeopleApp, Person
from pco_sandbox.seed_support import (
    UTC, IdSequence, between, iso, iso_or_none, stream, to_many, to_one,
)

WEEKS = 8
_CODE_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True, slots=True)
class Room:
    name: str
    folder: str | None
    age_months: tuple[int, int] | None = None
    grades: tuple[int, int] | None = None
    adult: bool = False
    capacity: int | None = None


# event name -> (weekday (Mon=0), local start times, rooms, frequency)
_SUNDAY_KIDS_ROOMS = (
    Room("Infants", "Nursery", age_months=(0, 11), capacity=12),
    Room("Crawlers", "Nursery", age_months=(12, 23), capacity=12),
    Room("Toddlers", "Nursery", age_months=(24, 35), capacity=14),
    Room("Threes", "Preschool", age_months=(36, 47), capacity=18),
    Room("Pre-K", "Preschool", grades=(-1, -1), age_months=(48, 71), capacity=20),
    Room("Kindergarten", "Elementary", grades=(0, 0), capacity=24),
    Room("1st & 2nd Grade", "Elementary", grades=(1, 2), capacity=30),
    Room("3rd & 4th Grade", "Elementary", grades=(3, 4), capacity=30),
    Room("5th Grade", "Elementary", grades=(5, 5), capacity=25),
    Room("Kids Volunteers", None, adult=True),
)
_STUDENT_ROOMS = (
    Room("Middle School", None, grades=(6, 8), capacity=80),
    Room("High School", None, grades=(9, 12), capacity=80),
    Room("Student Volunteers", None, adult=True),
)
_VBS_ROOMS = (
    Room("VBS Crew K-2", None, grades=(0, 2), capacity=60),
    Room("VBS Crew 3-5", None, grades=(3, 5), capacity=60),
    Room("VBS Volunteers", None, adult=True),
)


@dataclass(eq=False, slots=True)
class CheckInEvent:
    id: str
    name: str
    rooms: tuple[Room, ...]
    times: tuple[time, ...]
    frequency: str
    created_at: datetime
    archived_at: datetime | None = None


class _Builder:
    def __init__(self, app: PeopleApp, seed: int, now: datetime) -> None:
        self.app = app
        self.now = now
        self.zone = ZoneInfo(ORGANIZATION["time_zone"])
        self.rng = stream(seed, "check-ins")
        self.seed = seed
        self.started = now - timedelta(days=4 * 365)
        self.out: dict[str, list[dict]] = {k: [] for k in (
            "check-ins/events", "check-ins/event_periods", "check-ins/event_times", "check-ins/locations",
            "check-ins/stations", "check-ins/labels", "check-ins/attendance_types", "check-ins/check_ins",
            "check-ins/headcounts")}
        self.location_ids = IdSequence(2_400_001, stream(seed, "location-ids"), gap_rate=0.05)
        self.period_ids = IdSequence(31_000_001, stream(seed, "period-ids"), gap_rate=0.01)
        self.time_ids = IdSequence(52_000_001, stream(seed, "event-time-ids"), gap_rate=0.01)
        self.headcount_ids = IdSequence(7_700_001, stream(seed, "headcount-ids"), gap_rate=0.01)
        self.pending_check_ins: list[dict] = []

    def local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def stamp(self, created: datetime) -> dict:
        return {"created_at": iso(created), "updated_at": iso(created)}

    # -- static setup ---------------------------------------------------------------------

    def event(self, event_id: str, name: str, rooms: tuple[Room, ...], times: tuple[time, ...], frequency: str,
              archived_at: datetime | None = None) -> tuple[CheckInEvent, dict[str, str]]:
        rng = self.rng
        created = between(rng, self.started, self.started + timedelta(days=120))
        event = CheckInEvent(event_id, name, rooms, times, frequency, created, archived_at)
        self.out["check-ins/events"].append({
            "type": "Event", "id": event_id,
            "attributes": {
                "name": name, "frequency": frequency, "enable_services_integration": name == "Sunday Worship",
                "created_at": iso(created),
                "updated_at": iso(archived_at or between(rng, created, self.now - timedelta(days=30))),
                "archived_at": iso_or_none(archived_at), "integration_key": None,
                "location_times_enabled": False, "pre_select_enabled": name != "Sunday Worship",
            },
            "relationships": {},
        })
        room_ids = {}
        folder_ids = {}
        for position, room in enumerate(rooms, start=1):
            if room.folder and room.folder not in folder_ids:
                folder_ids[room.folder] = self.location_ids.next()
                self.out["check-ins/locations"].append(self._location(
                    folder_ids[room.folder], event, Room(room.folder, None), "Folder", None, position))
            room_ids[room.name] = self.location_ids.next()
            self.out["check-ins/locations"].append(self._location(
                room_ids[room.name], event, room, "Location", folder_ids.get(room.folder), position))
        return event, room_ids

    def _location(self, location_id: str, event: CheckInEvent, room: Room, kind: str, parent_id: str | None,
                  position: int) -> dict:
        created = event.created_at + timedelta(minutes=position * 3)
        ages = room.age_months or (None, None)
        grades = room.grades or (None, None)
        return {
            "type": "Location", "id": location_id,
            "attributes": {
                "name": room.name, "kind": kind, "opened": kind != "Folder",
                "questions": None, "age_min_in_months": ages[0], "age_max_in_months": ages[1],
                "age_range_by": "age" if room.age_months else None, "age_on": None,
                "child_or_adult": "adult" if room.adult else "child", "effective_date": None, "gender": None,
                "grade_min": grades[0], "grade_max": grades[1], "max_occupancy": room.capacity,
                "min_volunteers": None if room.adult or kind == "Folder" else 2,
                "attendees_per_volunteer": None if room.adult or kind == "Folder" else 6,
                "position": position, "updated_at": iso(created), "created_at": iso(created), "milestone": None,
            },
            # `event` is not printed on a plain GET (live shows only parent) but is a real route
            # (/locations/{id}/event) and says which event's locations list this one is in.
            "relationships": {"parent": to_one("Location", parent_id), "event": to_one("Event", event.id)},
        }

    def stations(self) -> dict[str, str]:
        ids = {}
        for i, (name, input_type) in enumerate((("Lobby Kiosk 1", "scanner"), ("Lobby Kiosk 2", "scanner"),
                                                ("Kids Hall Kiosk", "keypad"), ("Student Center iPad", "keypad"),
                                                ("Staffed Station", "scanner"))):
            station_id = str(412_001 + i * 3)
            ids[name] = station_id
            created = self.started + timedelta(days=20 + i)
            self.out["check-ins/stations"].append({
                "type": "Station", "id": station_id,
                "attributes": {"mode": 2 if name == "Staffed Station" else 1, "name": name, "timeout_seconds": 60,
                               "input_type": input_type, "input_type_options": "all_input_types",
                               **self.stamp(created)},
                "relationships": {},
            })
        return ids

    def labels(self) -> None:
        for i, (name, prints_for) in enumerate((("Name Tag", "Person"), ("Parent Pickup", "Group"),
                                                ("Allergy Alert", "Person"), ("Volunteer Badge", "Person"))):
            created = self.started + timedelta(days=21, minutes=i)
            xml = (f'<?xml version="1.0" encoding="UTF-8"?><label name="{name}"><text field="first_name"/>'
                   f'<text field="last_name"/><text field="security_code"/></label>')
            self.out["check-ins/labels"].append({
                "type": "Label", "id": str(95_001 + i),
                "attributes": {"name": name, "xml": xml, "prints_for": prints_for, "roll": "standard",
                               **self.stamp(created)},
                "relationships": {},
            })

    # -- occurrences ----------------------------------------------------------------------

    def occurrence(self, event: CheckInEvent, day: date, stations: dict[str, str], room_ids: dict[str, str],
                   attendees: list[tuple[Person, str | None, str, Person | None]], counts_only: dict | None = None
                   ) -> None:
        """One event period on `day`: its event times, check-ins (attendee, preferred time, kind,
        emergency contact) and, for headcount events, `counts_only` {attendance type id: per-time totals}."""
        rng = self.rng
        starts = [self.local(day, t) for t in event.times]
        period_id = self.period_ids.next()
        period_created = starts[0] - timedelta(hours=1)
        time_ids = [self.time_ids.next() for _ in starts]
        per_time = [{"Regular": 0, "Guest": 0, "Volunteer": 0} for _ in starts]
        security: dict[str, str] = {}
        family_slot: dict[str, int] = {}
        number = 0
        for person, family_key, kind, contact in attendees:
            # a family comes to one service together and shares one security code
            slot = family_slot.setdefault(family_key, rng.randrange(len(starts))) if family_key \
                else rng.randrange(len(starts))
            room = self._room_for(event.rooms, person, kind)
            if room is None:
                continue
            number += 1
            start = starts[slot]
            created = between(rng, start - timedelta(minutes=30), start + timedelta(minutes=20))
            checked_out = None
            if rng.random() < (0.85 if kind != "Volunteer" else 0.3):
                checked_out = created + timedelta(minutes=rng.randint(60, 110))
            code_key = family_key or f"#{number}"
            code = security.get(code_key)
            if code is None:
                code = "".join(rng.choice(_CODE_CHARS) for _ in range(3))
                security[code_key] = code
            per_time[slot][kind] += 1
            guest_without_record = person.id == ""
            self.pending_check_ins.append({
                "type": "CheckIn", "id": "",
                "attributes": {
                    "first_name": person.first_name, "last_name": person.last_name,
                    "medical_notes": person.medical_notes, "number": number, "security_code": code,
                    "created_at": iso(created), "updated_at": iso(checked_out or created),
                    "checked_out_at": iso_or_none(checked_out), "confirmed_at": None,
                    "emergency_contact_name": contact.name if contact else None,
                    "emergency_contact_phone_number": contact.phones[0]["attributes"]["number"]
                    if contact and contact.phones else None,
                    "one_time_guest": guest_without_record, "kind": kind,
                },
                "relationships": {
                    "event_period": to_one("EventPeriod", period_id),
                    "person": to_one("Person", None if guest_without_record else person.id),
                    "event": to_one("Event", event.id),
                    "locations": to_many("Location", [room_ids[room.name]]),
                    "event_times": to_many("EventTime", [time_ids[slot]]),
                    "checked_in_at": to_one("Station", stations["Staffed Station"] if kind == "Volunteer"
                                            else stations[rng.choice(("Lobby Kiosk 1", "Lobby Kiosk 2", "Kids Hall Kiosk"))
                                                          if event.name != "Wednesday Night Students"
                                                          else "Student Center iPad"]),
                },
            })
        totals = {"Regular": 0, "Guest": 0, "Volunteer": 0}
        for slot, (time_id, start) in enumerate(zip(time_ids, starts)):
            counts = per_time[slot]
            for k in totals:
                totals[k] += counts[k]
            headcount_total = sum(v[slot] for v in counts_only.values()) if counts_only else 0
            self.out["check-ins/event_times"].append({
                "type": "EventTime", "id": time_id,
                "attributes": {
                    "total_count": counts["Regular"] + counts["Guest"] + counts["Volunteer"] + headcount_total,
                    "starts_at": iso(start), "shows_at": iso(start - timedelta(minutes=30)),
                    "hides_at": iso(start + timedelta(minutes=75)), "regular_count": counts["Regular"],
                    "guest_count": counts["Guest"], "volunteer_count": counts["Volunteer"],
                    **self.stamp(period_created), "name": None if len(starts) == 1 else
                    ("First Service", "Second Service", "Third Service")[slot],
                    "hour": event.times[slot].hour, "minute": event.times[slot].minute,
                    "day_of_week": (day.weekday() + 1) % 7,
                },
                "relationships": {"event": to_one("Event", event.id), "event_period": to_one("EventPeriod", period_id)},
            })
            for type_id, per_slot in (counts_only or {}).items():
                recorded = start + timedelta(minutes=rng.randint(25, 50))
                self.out["check-ins/headcounts"].append({
                    "type": "Headcount", "id": self.headcount_ids.next(),
                    "attributes": {"total": per_slot[slot], **self.stamp(recorded)},
                    "relationships": {"event_time": to_one("EventTime", time_id),
                                      "attendance_type": to_one("AttendanceType", type_id)},
                })
        self.out["check-ins/event_periods"].append({
            "type": "EventPeriod", "id": period_id,
            "attributes": {
                "starts_at": iso(starts[0] - timedelta(minutes=30)), "ends_at": iso(starts[-1] + timedelta(minutes=75)),
                "regular_count": totals["Regular"], "guest_count": totals["Guest"],
                "volunteer_count": totals["Volunteer"], "note": None, **self.stamp(period_created),
            },
            "relationships": {"event": to_one("Event", event.id)},
        })

    @staticmethod
    def _room_for(rooms: tuple[Room, ...], person: Person, kind: str) -> Room | None:
        if kind == "Volunteer":
            return next((r for r in rooms if r.adult), None)
        months = None
        if person.birthdate is not None:
            months = person.age * 12  # coarse, as a check-in kiosk's age rule is
        for room in rooms:
            if room.adult:
                continue
            if person.grade is not None and room.grades and room.grades[0] <= person.grade <= room.grades[1]:
                return room
            if person.grade is None and months is not None and room.age_months and \
                    room.age_months[0] <= months <= room.age_months[1]:
                return room
        return None


def generate_check_ins(app: PeopleApp, seed: int, now: datetime) -> dict[str, list[dict]]:
    b = _Builder(app, seed, now)
    rng = b.rng
    stations = b.stations()
    b.labels()
    kids_event, kids_rooms = b.event("301401", "Sunday Kids", _SUNDAY_KIDS_ROOMS, (time(9, 0), time(10, 45)), "Weekly")
    students_event, student_rooms = b.event("301402", "Wednesday Night Students", _STUDENT_ROOMS, (time(18, 30),), "Weekly")
    worship_event, _ = b.event("301407", "Sunday Worship", (), (time(9, 0), time(10, 45)), "Weekly")
    vbs_year = now.year if (now.month, now.day) > (7, 1) else now.year - 1
    vbs_days = [date(vbs_year, 6, 22) + timedelta(days=i) for i in range(5)]
    vbs_event, vbs_rooms = b.event("301433", f"VBS {vbs_year}", _VBS_ROOMS, (time(9, 0),), "None",
                                   archived_at=b.local(vbs_days[-1], time(15, 0)) + timedelta(days=3))

    attendance_types = {}
    for i, (name, color) in enumerate((("Adults", "#4caf50"), ("Kids in Service", "#2196f3"), ("Overflow", "#ff9800"))):
        type_id = str(61_001 + i)
        attendance_types[name] = type_id
        created = worship_event.created_at + timedelta(minutes=10 + i)
        b.out["check-ins/attendance_types"].append({
            "type": "AttendanceType", "id": type_id,
            "attributes": {"name": name, "color": color, **b.stamp(created), "limit": None},
            "relationships": {"event": to_one("Event", worship_event.id)},
        })

    families = []  # (family key, kids, contact, attendance probability, preferred-time bias)
    teens = []
    for household in app.households:
        kids = [m for m in household.members if m.child and m.active and (m.grade is None or m.grade <= 5)]
        household_teens = [m for m in household.members if m.active and m.grade is not None and m.grade >= 6]
        if kids and rng.random() < 0.55:
            families.append((household.id, kids, household.primary_contact, rng.choice((0.15, 0.35, 0.6, 0.85))))
        teens += [(t, household.id, household.primary_contact) for t in household_teens if rng.random() < 0.45]
    volunteers = [p for p in app.people if p.passed_background_check and p.active]
    visitors = [p for p in app.people if not p.households and p.child and p.active and p.grade is not None]

    sundays = _weekdays_before(now, 6, WEEKS)
    wednesdays = _weekdays_before(now, 2, WEEKS)
    weekly_adults = max(1, len(app.people) * 18 // 100)
    guest_names = stream(seed, "guest-names")
    for day in sundays:
        if b.local(day, kids_event.times[-1]) + timedelta(minutes=75) >= now:
            continue
        attendees = []
        for key, kids, contact, p in families:
            if rng.random() < p:
                attendees += [(kid, key, "Regular", contact) for kid in kids if rng.random() < 0.92]
        attendees += [(v, None, "Volunteer", None) for v in volunteers if rng.random() < 0.35]
        attendees += [(kid, None, "Guest", None) for kid in visitors if rng.random() < 0.1]
        for _ in range(rng.randint(0, 3)):
            attendees.append((_one_time_guest(guest_names, day), None, "Guest", None))
        b.occurrence(kids_event, day, stations, kids_rooms, attendees)
        adults = {attendance_types["Adults"]: [int(weekly_adults * rng.uniform(0.35, 0.45)),
                                               int(weekly_adults * rng.uniform(0.5, 0.62))],
                  attendance_types["Kids in Service"]: [rng.randint(5, 20), rng.randint(5, 25)],
                  attendance_types["Overflow"]: [0, rng.choice((0, 0, rng.randint(10, 60)))]}
        b.occurrence(worship_event, day, stations, {}, [], counts_only=adults)
    for day in wednesdays:
        if b.local(day, students_event.times[0]) + timedelta(minutes=75) >= now:
            continue
        attendees = [(t, key, "Regular", contact) for t, key, contact in teens if rng.random() < 0.55]
        attendees += [(v, None, "Volunteer", None) for v in volunteers if v.age < 45 and rng.random() < 0.15]
        b.occurrence(students_event, day, stations, student_rooms, attendees)
    vbs_kids = [(kid, key, "Regular", contact) for key, kids, contact, _ in families for kid in kids
                if kid.grade is not None and 0 <= kid.grade <= 5 and rng.random() < 0.5]
    for day in vbs_days:
        if b.local(day, time(12, 0)) >= now:
            continue
        attendees = [a for a in vbs_kids if rng.random() < 0.9]
        attendees += [(v, None, "Volunteer", None) for v in volunteers if rng.random() < 0.25]
        b.occurrence(vbs_event, day, stations, vbs_rooms, attendees)

    check_ins = sorted(b.pending_check_ins, key=lambda c: c["attributes"]["created_at"])
    ids = IdSequence(180_000_001, stream(seed, "check-in-ids"), gap_rate=0.005)
    for row in check_ins:
        row["id"] = ids.next()
    b.out["check-ins/check_ins"] = check_ins
    for key in ("check-ins/event_periods", "check-ins/event_times", "check-ins/headcounts", "check-ins/locations"):
        b.out[key].sort(key=lambda r: int(r["id"]))
    b.out["check-ins/events"].sort(key=lambda r: int(r["id"]))
    return b.out


def _weekdays_before(now: datetime, weekday: int, weeks: int) -> list[date]:
    """The last `weeks` dates falling on `weekday` (Mon=0) up to today, oldest first."""
    today = now.date()
    last = today - timedelta(days=(today.weekday() - weekday) % 7)
    return [last - timedelta(weeks=w) for w in range(weeks - 1, -1, -1)]


def _one_time_guest(rng: random.Random, day: date) -> Person:
    """A child checked in from a label only: a CheckIn with names but no person record."""
    sex = rng.choice("FM")
    age = rng.randint(1, 10)
    return Person(first_name=rng.choice(vocab.FEMALE_FIRST if sex == "F" else vocab.MALE_FIRST),
                  last_name=rng.choice(vocab.LAST_NAMES), gender=None, birthdate=day - timedelta(days=365 * age + 100),
                  role="child", sex=sex, age=age, child=True, grade=age - 5 if 4 <= age <= 10 else None)
