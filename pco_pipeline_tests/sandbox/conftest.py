"""A small, hand-made organization for the sandbox tests, and sandboxes serving it.

Every value a test relies on is written out here, so a test reads as "given this church, PCO
answers that". The clock is frozen at NOW unless a test advances it.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from pco_sandbox.core import Sandbox, SandboxConfig

NOW = datetime(2026, 3, 10, 18, 0, 0, tzinfo=UTC)


def ref(type_: str, id_: str | None) -> dict[str, Any]:
    return {"data": None if id_ is None else {"type": type_, "id": id_}}


def person(id_: str, first: str, last: str, **attributes: Any) -> dict[str, Any]:
    base = {"first_name": first, "last_name": last, "name": f"{first} {last}", "nickname": None,
            "given_name": None, "middle_name": None, "birthdate": None, "child": False, "grade": None,
            "gender": None, "status": "active", "membership": None, "remote_id": None,
            "created_at": "2025-01-01T10:00:00Z", "updated_at": "2025-01-01T10:00:00Z"}
    base.update(attributes)
    relationships = {"primary_campus": ref("Campus", base.pop("campus", None))}
    return {"type": "Person", "id": id_, "attributes": base, "relationships": relationships}


def child_of(key: str, type_: str, id_: str, person_id: str, **attributes: Any) -> dict[str, Any]:
    stamps = {"created_at": "2025-01-02T10:00:00Z", "updated_at": "2025-01-02T10:00:00Z"}
    return {"type": type_, "id": id_, "attributes": {**stamps, **attributes}, "relationships": {"person": ref("Person", person_id)}}


def small_church() -> dict[str, list[dict[str, Any]]]:
    people = [
        person("101", "Ada", "Byron", nickname="Addie", middle_name="Augusta", birthdate="1985-12-10",
               gender="Female", membership="Member", remote_id=42, campus="9001"),
        person("102", "william", "byron", birthdate="1983-05-01", gender="Male", membership="member",
               updated_at="2025-06-01T12:00:00Z"),
        person("103", "Émile", "Zola", child=True, grade=8, birthdate="2012-04-02",
               created_at="2026-03-01T07:30:00Z", updated_at="2026-03-01T07:30:00Z"),
        person("104", "Chloé", "Adams", child=True, grade=3, birthdate="2017-09-09", status="inactive",
               inactivated_at="2025-09-01T00:00:00Z", updated_at="2025-09-01T00:00:00Z"),
        person("105", "Bob", "adams", birthdate=None, membership="Visitor", updated_at="2025-06-01T12:00:00Z"),
    ]
    emails = [
        child_of("e", "Email", "2001", "101", address="ada@byron.example", location="Home", primary=True, blocked=False),
        child_of("e", "Email", "2002", "102", address="family@byron.example", location="Home", primary=True,
                 blocked=False),
        child_of("e", "Email", "2003", "102", address="will@work.example", location="Work", primary=False,
                 blocked=False),
        child_of("e", "Email", "2004", "105", address="bob@adams.example", location="Home", primary=True, blocked=False),
    ]
    phones = [
        child_of("p", "PhoneNumber", "3001", "101", number="(555) 841-1105", e164="+15558411105",
                 national="(555) 841-1105", international="+1 555-841-1105", country_code="US", location="Mobile",
                 primary=True, carrier=None),
        child_of("p", "PhoneNumber", "3002", "105", number="555-777-1234", e164="+15557771234",
                 national="(555) 777-1234", international="+1 555-777-1234", country_code="US", location="Home",
                 primary=True, carrier=None),
        child_of("p", "PhoneNumber", "3003", "105", number="555.777.1234", e164="+15557771234",
                 national="(555) 777-1234", international="+1 555-777-1234", country_code="US", location="Work",
                 primary=False, carrier=None),
    ]
    addresses = [
        child_of("a", "Address", "4001", "101", street_line_1="1 Analytical Way", street_line_2="Apt 2",
                 city="London", state="", zip="00001", country_code="GB", country_name="United Kingdom",
                 location="Home", primary=True),
    ]
    households = [
        {"type": "Household", "id": "5001", "attributes": {
            "name": "Byron Household", "member_count": 2, "primary_contact_id": "101",
            "primary_contact_name": "Ada Byron", "avatar": None, "created_at": "2025-01-03T10:00:00Z",
            "updated_at": "2025-01-03T10:00:00Z"},
         "relationships": {"people": {"data": [{"type": "Person", "id": "102"}, {"type": "Person", "id": "101"}]},
                           "primary_contact": ref("Person", "101")}},
        {"type": "Household", "id": "5002", "attributes": {
            "name": "Adams Household", "member_count": 2, "primary_contact_id": "105",
            "primary_contact_name": "Bob adams", "avatar": None, "created_at": "2025-01-03T10:00:00Z",
            "updated_at": "2025-01-03T10:00:00Z"},
         "relationships": {"primary_contact": ref("Person", "105")}},
    ]
    household_memberships = [
        {"type": "HouseholdMembership", "id": "6001", "attributes": {"person_name": "Bob adams", "pending": False},
         "relationships": {"person": ref("Person", "105")}, "_parent": {"type": "Household", "id": "5002"}},
        {"type": "HouseholdMembership", "id": "6002", "attributes": {"person_name": "Chloé Adams", "pending": True},
         "relationships": {"person": ref("Person", "104")}, "_parent": {"type": "Household", "id": "5002"}},
    ]
    return {
        "people/people": people, "people/emails": emails, "people/phone_numbers": phones,
        "people/addresses": addresses, "people/households": households,
        "people/household_memberships": household_memberships,
        "people/campuses": [{"type": "Campus", "id": "9001", "attributes": {
            "name": "Main", "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}}],
        "people/marital_statuses": [{"type": "MaritalStatus", "id": "71", "attributes": {"value": "Married"}}],
        "groups/group_types": [{"type": "GroupType", "id": "801", "attributes": {"name": "Small Groups", "position": 1}}],
        "groups/groups": [
            {"type": "Group", "id": "811", "attributes": {"name": "Tuesday Study", "archived_at": None,
                                                          "created_at": "2024-02-01T00:00:00Z", "memberships_count": 1},
             "relationships": {"group_type": ref("GroupType", "801")}},
            {"type": "Group", "id": "812", "attributes": {"name": "Old Choir", "archived_at": "2025-01-01T00:00:00Z",
                                                          "created_at": "2023-02-01T00:00:00Z", "memberships_count": 0},
             "relationships": {"group_type": ref("GroupType", "801")}},
        ],
        "groups/memberships": [
            {"type": "Membership", "id": "821", "attributes": {"joined_at": "2024-03-01T00:00:00Z", "role": "leader"},
             "relationships": {"group": ref("Group", "811"), "person": ref("Person", "101")},
             "_parent": {"type": "Group", "id": "811"}},
        ],
        "check-ins/events": [{"type": "Event", "id": "901", "attributes": {
            "name": "Sunday Kids", "frequency": "Weekly", "archived_at": None,
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}}],
        "check-ins/event_times": [{"type": "EventTime", "id": "911", "attributes": {
            "starts_at": "2026-03-08T17:00:00Z", "name": "First Service", "created_at": "2026-03-08T16:00:00Z",
            "updated_at": "2026-03-08T16:00:00Z"}, "relationships": {"event": ref("Event", "901")}}],
        "check-ins/headcounts": [{"type": "Headcount", "id": "921", "attributes": {
            "total": 12, "created_at": "2026-03-08T18:00:00Z", "updated_at": "2026-03-08T18:00:00Z"},
            "relationships": {"event_time": ref("EventTime", "911")}}],
        "check-ins/check_ins": [
            {"type": "CheckIn", "id": "931", "attributes": {
                "first_name": "Émile", "last_name": "Zola", "kind": "Regular", "checked_out_at": None,
                "created_at": "2026-03-08T16:55:00Z", "updated_at": "2026-03-08T16:55:00Z"},
             "relationships": {"event": ref("Event", "901"), "person": ref("Person", "103")}},
            {"type": "CheckIn", "id": "932", "attributes": {
                "first_name": "Guest", "last_name": "Kid", "kind": "Guest", "checked_out_at": "2026-03-08T18:30:00Z",
                "created_at": "2026-03-08T16:57:00Z", "updated_at": "2026-03-08T18:30:00Z"},
             "relationships": {"event": ref("Event", "901"), "person": ref("Person", None)}},
        ],
        "calendar/events": [{"type": "Event", "id": "951", "attributes": {
            "name": "Easter", "approval_status": "A", "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z"}, "relationships": {"owner": ref("Person", "101")}}],
        "calendar/event_instances": [
            {"type": "EventInstance", "id": "961", "attributes": {
                "starts_at": "2026-04-05T16:00:00Z", "ends_at": "2026-04-05T18:00:00Z",
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"},
             "relationships": {"event": ref("Event", "951")}},
            {"type": "EventInstance", "id": "962", "attributes": {
                "starts_at": "2025-04-20T16:00:00Z", "ends_at": "2025-04-20T18:00:00Z",
                "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"},
             "relationships": {"event": ref("Event", "951")}},
        ],
    }


def many_people(count: int, start: int = 200001) -> list[dict[str, Any]]:
    """`count` plain people with ids start, start+1, … (for paging)."""
    return [person(str(start + i), f"Person{i:04d}", "Many") for i in range(count)]


def make_sandbox(**config: Any) -> Sandbox:
    options: dict[str, Any] = {"rate_limit": "off", "clock_start": NOW, "clock_frozen": True,
                               "app_id": "test-app", "secret": "test-secret"}
    options.update(config)
    return Sandbox(SandboxConfig(**options), data=small_church())


@pytest.fixture
def sandbox():
    with make_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def client(sandbox):
    with sandbox.client() as client:
        yield client


# --- webhooks -------------------------------------------------------------------------------------

RECEIVER = "http://receiver.test/pco"


class Receiver:
    """An in-process webhook endpoint answering from a script of statuses, then `otherwise`."""

    def __init__(self, statuses: list[int] | None = None, *, otherwise: int = 200) -> None:
        self.statuses = list(statuses or [])
        self.otherwise = otherwise
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            status = self.statuses.pop(0) if self.statuses else self.otherwise
        return httpx.Response(status, text="ok")

    def deliveries(self) -> list[dict]:
        return [json.loads(r.content)["data"][0] for r in self.requests]


@pytest.fixture
def receiver():
    return Receiver()


@pytest.fixture
def hooked(receiver):
    """A sandbox delivering its webhooks to `receiver` at once."""
    with make_sandbox(webhook_transport=httpx.MockTransport(receiver), webhook_time_scale=0.0001) as sandbox:
        yield sandbox
