"""The Groups app of the synthetic church: group types, groups and leader/member memberships.

Live Groups resources carry no `updated_at` (PCO issue #842) and Membership has no timestamps at
all; only Group.created_at, archived_at and Membership.joined_at exist.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pco_sandbox import seed_vocab as vocab
from pco_sandbox.seed_people import PeopleApp, Person, ascii_fold, stamped
from pco_sandbox.seed_support import IdSequence, between, iso, iso_or_none, stream, to_one

_TYPE_WEIGHTS = {"Small Groups": 40, "Classes": 12, "Serve Teams": 25, "Support & Recovery": 5,
                 "Students": 10, "Unique": 8}
_SIZES = {"Small Groups": (6, 16), "Classes": (8, 28), "Serve Teams": (5, 24), "Support & Recovery": (4, 12),
          "Students": (8, 30), "Unique": (5, 18)}
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(eq=False, slots=True)
class GroupMembership:
    id: str
    person: Person
    role: str                       # "leader" | "member"
    joined_at: datetime


@dataclass(eq=False, slots=True)
class Group:
    id: str
    name: str
    type_name: str
    type_id: str
    created_at: datetime
    archived_at: datetime | None
    meeting_day: str | None         # lower-case weekday, for the church's own group table
    frequency: str | None           # weekly, biweekly, monthly
    schedule: str | None
    has_childcare: bool
    memberships: list[GroupMembership] = field(default_factory=list)
    attributes: dict = field(default_factory=dict)


@dataclass(slots=True)
class GroupsApp:
    group_types: list[dict]
    groups: list[Group]

    def render(self) -> dict[str, list[dict]]:
        groups = sorted(self.groups, key=lambda g: int(g.id))
        memberships = sorted((m for g in groups for m in g.memberships), key=lambda m: int(m.id))
        by_membership = {m.id: g for g in groups for m in g.memberships}
        return {
            "groups/group_types": self.group_types,
            "groups/groups": [{
                "type": "Group", "id": g.id, "attributes": g.attributes,
                "relationships": {"group_type": to_one("GroupType", g.type_id), "location": to_one("Location", None)},
            } for g in groups],
            "groups/memberships": [{
                "type": "Membership", "id": m.id,
                "attributes": {"joined_at": iso(m.joined_at), "role": m.role},
                "relationships": {"group": to_one("Group", by_membership[m.id].id),
                                  "person": to_one("Person", m.person.id)},
            } for m in memberships],
        }


def generate_groups(app: PeopleApp, seed: int, now: datetime) -> GroupsApp:
    rng = stream(seed, "groups")
    started = now - timedelta(days=5 * 365)
    group_types = []
    type_ids = {}
    for position, (name, color, description) in enumerate(vocab.GROUP_TYPES, start=1):
        type_id = str(60_100 + position * 11)
        type_ids[name] = type_id
        settings = {"chat_enabled": name != "Support & Recovery", "events_visibility": "members",
                    "members_are_confidential": name == "Support & Recovery", "location_type_preference": "physical"}
        group_types.append({
            "type": "GroupType", "id": type_id,
            "attributes": {
                "church_center_map_visible": name == "Small Groups",
                "church_center_visible": name not in ("Serve Teams", "Unique"),
                "color": color, "default_group_settings": json.dumps(settings), "description": description,
                "name": name, "position": position,
            },
            "relationships": {},
        })

    eligible = [p for p in app.people if p.active and p.duplicate_of is None]
    adults = [p for p in eligible if not p.child]
    students = [p for p in eligible if p.child and p.grade is not None and p.grade >= 6]
    n_groups = max(len(_TYPE_WEIGHTS), len(app.people) // 40) if adults else 0
    kinds = list(_TYPE_WEIGHTS)
    names_used: set[str] = set()
    ids = IdSequence(1_830_001, stream(seed, "group-ids"), gap_rate=0.05)
    membership_ids = IdSequence(88_000_001, stream(seed, "group-membership-ids"), gap_rate=0.02)
    drafts = []
    for i in range(n_groups):
        type_name = kinds[i] if i < len(kinds) else rng.choices(kinds, weights=list(_TYPE_WEIGHTS.values()))[0]
        if type_name == "Students" and not students:
            type_name = "Small Groups"
        drafts.append((between(rng, started, now - timedelta(days=10)), type_name))
    drafts.sort(key=lambda d: d[0])

    groups = []
    for created_at, type_name in drafts:
        name = _unique(_group_name(rng, type_name, created_at), names_used)
        day_index = rng.randrange(7) if type_name != "Serve Teams" else 6
        frequency = rng.choices(("weekly", "biweekly", "monthly", None), weights=(70, 12, 10, 8))[0]
        schedule = _schedule(rng, day_index, frequency)
        archived_at = between(rng, created_at + timedelta(days=30), now - timedelta(days=1)) \
            if rng.random() < 0.07 else None
        group = Group(id=ids.next(), name=name, type_name=type_name, type_id=type_ids[type_name],
                      created_at=created_at, archived_at=archived_at,
                      meeting_day=vocab.WEEKDAYS[day_index] if frequency else None, frequency=frequency,
                      schedule=schedule, has_childcare=type_name == "Small Groups" and rng.random() < 0.25)
        low, high = _SIZES[type_name]
        size = rng.randint(low, high)
        pool = students if type_name == "Students" else adults
        last_join = (archived_at or now) - timedelta(hours=1)
        chosen = [p for p in rng.sample(pool, min(size, len(pool))) if stamped(p.created_at) < last_join]
        leader_pool = [p for p in rng.sample(adults, min(2, len(adults))) if stamped(p.created_at) < last_join] \
            if type_name == "Students" else chosen
        leaders = leader_pool[:rng.choice((1, 1, 2))]
        seen = set()
        for person in leaders + chosen:
            if id(person) in seen:
                continue
            seen.add(id(person))
            role = "leader" if person in leaders else "member"
            start = max(created_at, stamped(person.created_at))
            joined = start if role == "leader" else between(rng, start, last_join)
            group.memberships.append(GroupMembership(id="", person=person, role=role, joined_at=joined))
        group.memberships.sort(key=lambda m: m.joined_at)
        for m in group.memberships:
            m.id = membership_ids.next()
        group.attributes = _attributes(rng, group, leaders)
        groups.append(group)
    return GroupsApp(group_types=group_types, groups=groups)


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 1
    while candidate.casefold() in used:
        n += 1
        candidate = f"{name} {n}"
    used.add(candidate.casefold())
    return candidate


def _group_name(rng: random.Random, type_name: str, created_at: datetime) -> str:
    if type_name == "Small Groups":
        return f"{rng.choice(vocab.NEIGHBORHOODS)} {rng.choice(vocab.SMALL_GROUP_KINDS)}"
    if type_name == "Classes":
        season = ("Winter", "Spring", "Summer", "Fall")[(created_at.month - 1) // 3]
        return f"{rng.choice(vocab.CLASS_NAMES)} ({season} {created_at.year})"
    if type_name == "Serve Teams":
        return rng.choice(vocab.SERVE_TEAMS) if rng.random() < 0.8 else f"North Campus {rng.choice(vocab.SERVE_TEAMS)}"
    if type_name == "Support & Recovery":
        return rng.choice(vocab.SUPPORT_GROUPS)
    if type_name == "Students":
        return rng.choice(vocab.STUDENT_GROUPS)
    return rng.choice(vocab.UNIQUE_GROUPS)


def _schedule(rng: random.Random, day_index: int, frequency: str | None) -> str | None:
    if frequency is None:
        return None if rng.random() < 0.6 else "Times vary - check the group calendar"
    hour = rng.choice((6, 7, 9, 10, 18, 19, 19, 19))
    minute = rng.choice(("00", "00", "30", "15"))
    clock = f"{hour % 12 or 12}:{minute}{'am' if hour < 12 else 'pm'}" if rng.random() < 0.7 else f"{hour % 12 or 12}{'am' if hour < 12 else 'pm'}"
    day = _DAY_NAMES[day_index]
    if frequency == "weekly":
        return f"{day}s at {clock}"
    if frequency == "biweekly":
        return f"Every other {day} at {clock}"
    return f"First {day} of the month, {clock}"


def _attributes(rng: random.Random, group: Group, leaders: list[Person]) -> dict:
    slug = "-".join(ascii_fold(word) for word in group.name.split() if ascii_fold(word))
    type_slug = "-".join(ascii_fold(word) for word in group.type_name.split() if ascii_fold(word))
    leader_email = next((e["attributes"]["address"] for p in leaders for e in p.emails), None)
    virtual = rng.random() < 0.12
    plain = f"{group.name} meets {group.schedule.lower() if group.schedule else 'on a changing schedule'}. All are welcome!"
    image = f"https://images.example.com/groups/{group.id}"
    return {
        "archived_at": iso_or_none(group.archived_at),
        "chat_enabled": group.type_name != "Support & Recovery",
        "contact_email": leader_email if rng.random() < 0.7 else None,
        "created_at": iso(group.created_at),
        "description": f"<div>{plain}</div>",
        "description_as_plain_text": plain,
        "events_listed": rng.random() < 0.5,
        "events_visibility": "public" if rng.random() < 0.3 else "members",
        "header_image": {"thumbnail": f"{image}/thumbnail.jpg", "medium": f"{image}/medium.jpg",
                         "original": f"{image}/original.jpg"},
        "leaders_can_search_people_database": rng.random() < 0.1,
        "listed": group.type_name not in ("Serve Teams", "Support & Recovery") and group.archived_at is None,
        "location_type_preference": "virtual" if virtual else "physical",
        "members_are_confidential": group.type_name == "Support & Recovery",
        "memberships_count": len(group.memberships),
        "name": group.name,
        "public_church_center_web_url": f"https://grace.churchcenter.com/groups/{type_slug}/{slug}",
        "schedule": group.schedule,
        "virtual_location_url": f"https://meet.example.com/{slug}" if virtual else None,
    }
