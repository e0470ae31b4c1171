"""Small JSON:API documents shaped like the live recordings in /work/shared/pco_golden, parsed
with the real parser, and landed with the real landing code."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.jsonapi import Resource, parse_document
from pco_pipeline.sync import landing
from pco_pipeline.sync.catalog import spec_for

T0 = "2024-01-06T22:43:30Z"
_ids = itertools.count(50_000_001)


def next_id() -> str:
    return str(next(_ids))


def _ref(type_: str, id_: str | None) -> dict[str, Any]:
    return {"data": None if id_ is None else {"type": type_, "id": id_}}


def _refs(type_: str, items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"data": [{"type": type_, "id": item["id"]} for item in items]}


def email(address: str, *, id: str | None = None, primary: bool = True, location: str = "Home",
          updated_at: str = T0) -> dict[str, Any]:
    return {"type": "Email", "id": id or next_id(),
            "attributes": {"address": address, "blocked": False, "created_at": T0, "location": location,
                           "primary": primary, "updated_at": updated_at}}


def phone(number: str, *, id: str | None = None, country_code: str | None = "US", primary: bool = True,
          location: str = "Mobile") -> dict[str, Any]:
    return {"type": "PhoneNumber", "id": id or next_id(),
            "attributes": {"number": number, "carrier": None, "country_code": country_code, "created_at": T0,
                           "location": location, "primary": primary, "updated_at": T0}}


def address(street: str, city: str, *, id: str | None = None, primary: bool = True, state: str = "CA",
            zip: str = "90210") -> dict[str, Any]:
    return {"type": "Address", "id": id or next_id(),
            "attributes": {"street_line_1": street, "street_line_2": None, "city": city, "state": state,
                           "zip": zip, "country_code": "US", "country_name": "United States",
                           "location": "Home", "primary": primary, "created_at": T0, "updated_at": T0}}


def person(id: str, first: str, last: str, *, birthdate: str | None = None, emails: Sequence[dict] = (),
           phones: Sequence[dict] = (), addresses: Sequence[dict] = (), updated_at: str = T0,
           created_at: str = T0, with_contacts: bool = True, **attributes: Any) -> dict[str, Any]:
    """A Person resource object; its contacts travel in `person["_included"]`."""
    attrs = {"first_name": first, "last_name": last, "birthdate": birthdate, "child": False, "grade": None,
             "gender": "Female", "status": "active", "membership": "Member", "middle_name": None,
             "nickname": None, "name": f"{first} {last}", "created_at": created_at, "updated_at": updated_at,
             "medical_notes": None, "remote_id": None}
    attrs.update(attributes)
    relationships: dict[str, Any] = {"primary_campus": _ref("Campus", None)}
    included: list[dict[str, Any]] = []
    if with_contacts:
        for rel, type_, items in (("emails", "Email", emails), ("phone_numbers", "PhoneNumber", phones),
                                  ("addresses", "Address", addresses)):
            relationships[rel] = _refs(type_, items)
            for item in items:
                child = dict(item)
                child["relationships"] = {"person": _ref("Person", id)}
                included.append(child)
    return {"type": "Person", "id": id, "attributes": attrs, "relationships": relationships,
            "_included": included}


def household(id: str, name: str, members: Sequence[str], primary_contact: str | None, *,
              updated_at: str = T0) -> dict[str, Any]:
    return {"type": "Household", "id": id,
            "attributes": {"name": name, "member_count": len(members), "primary_contact_id": primary_contact,
                           "primary_contact_name": None, "avatar": None, "created_at": T0, "updated_at": updated_at},
            "relationships": {"people": {"data": [{"type": "Person", "id": m} for m in members]},
                              "primary_contact": _ref("Person", primary_contact)}}


def group_type(id: str, name: str, description: str | None = None) -> dict[str, Any]:
    return {"type": "GroupType", "id": id,
            "attributes": {"name": name, "description": description, "color": "#000", "position": 1,
                           "church_center_visible": True}}


def group(id: str, name: str, group_type_id: str | None, *, schedule: str | None = None,
          archived_at: str | None = None, description: str | None = None) -> dict[str, Any]:
    return {"type": "Group", "id": id,
            "attributes": {"name": name, "description": description, "description_as_plain_text": description,
                           "schedule": schedule, "archived_at": archived_at, "created_at": T0,
                           "memberships_count": 0},
            "relationships": {"group_type": _ref("GroupType", group_type_id), "location": _ref("Location", None)}}


def membership(id: str, group_id: str, person_id: str, role: str = "member",
               joined_at: str = "2024-02-01T10:00:00Z") -> dict[str, Any]:
    return {"type": "Membership", "id": id, "attributes": {"joined_at": joined_at, "role": role},
            "relationships": {"group": _ref("Group", group_id), "person": _ref("Person", person_id)}}


def calendar_event(id: str, name: str, summary: str | None = None) -> dict[str, Any]:
    return {"type": "Event", "id": id,
            "attributes": {"name": name, "summary": summary, "description": None, "approval_status": "A",
                           "created_at": T0, "updated_at": T0}}


def event_instance(id: str, event_id: str, starts_at: str, ends_at: str, *, location: str | None = None,
                   all_day: bool = False) -> dict[str, Any]:
    return {"type": "EventInstance", "id": id,
            "attributes": {"starts_at": starts_at, "ends_at": ends_at, "all_day_event": all_day,
                           "location": location, "recurrence": None, "created_at": T0, "updated_at": T0},
            "relationships": {"event": _ref("Event", event_id)}}


def checkin_event(id: str, name: str) -> dict[str, Any]:
    return {"type": "Event", "id": id,
            "attributes": {"name": name, "frequency": "Weekly", "archived_at": None, "created_at": T0,
                           "updated_at": T0}}


def location(id: str, name: str, *, kind: str = "Location", parent: str | None = None,
             age_min: int | None = None, age_max: int | None = None, max_occupancy: int | None = None) -> dict[str, Any]:
    return {"type": "Location", "id": id,
            "attributes": {"name": name, "kind": kind, "age_min_in_months": age_min, "age_max_in_months": age_max,
                           "grade_min": None, "grade_max": None, "max_occupancy": max_occupancy, "opened": True,
                           "created_at": T0, "updated_at": T0},
            "relationships": {"parent": _ref("Location", parent)}}


def checkin(id: str, *, person_id: str | None, event_id: str, location_ids: Sequence[str],
            first_name: str = "Kid", last_name: str = "Lee", created_at: str = "2024-03-03T15:00:00Z",
            checked_out_at: str | None = None, updated_at: str | None = None, kind: str = "Regular",
            security_code: str = "X1Y2", event_time_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """A CheckIn; `event_time_ids` adds the relationship `include=event_times` brings."""
    relationships: dict[str, Any] = {
        "person": _ref("Person", person_id), "event": _ref("Event", event_id),
        "locations": {"data": [{"type": "Location", "id": i} for i in location_ids]},
        "event_period": _ref("EventPeriod", "1")}
    if event_time_ids is not None:
        relationships["event_times"] = {"data": [{"type": "EventTime", "id": i} for i in event_time_ids]}
    return {"type": "CheckIn", "id": id,
            "attributes": {"first_name": first_name, "last_name": last_name, "kind": kind,
                           "security_code": security_code, "created_at": created_at,
                           "updated_at": updated_at or created_at, "checked_out_at": checked_out_at,
                           "number": 1, "one_time_guest": False, "medical_notes": None},
            "relationships": relationships}


def event_time(id: str, event_id: str, starts_at: str, *, name: str | None = None, regular: int = 0,
               guest: int = 0, volunteer: int = 0) -> dict[str, Any]:
    return {"type": "EventTime", "id": id,
            "attributes": {"name": name, "starts_at": starts_at, "shows_at": starts_at, "hides_at": starts_at,
                           "regular_count": regular, "guest_count": guest, "volunteer_count": volunteer,
                           "total_count": regular + guest + volunteer, "created_at": T0, "updated_at": T0},
            "relationships": {"event": _ref("Event", event_id), "event_period": _ref("EventPeriod", "1")}}


def attendance_type(id: str, name: str) -> dict[str, Any]:
    return {"type": "AttendanceType", "id": id,
            "attributes": {"name": name, "color": "#4caf50", "limit": None, "created_at": T0, "updated_at": T0}}


def headcount(id: str, event_time_id: str, attendance_type_id: str, total: Any) -> dict[str, Any]:
    return {"type": "Headcount", "id": id, "attributes": {"total": total, "created_at": T0, "updated_at": T0},
            "relationships": {"event_time": _ref("EventTime", event_time_id),
                              "attendance_type": _ref("AttendanceType", attendance_type_id)}}


def person_merger(id: str, keep: str, remove: str, created_at: str = T0) -> dict[str, Any]:
    return {"type": "PersonMerger", "id": id,
            "attributes": {"created_at": created_at, "person_to_keep_id": keep, "person_to_remove_id": remove},
            "relationships": {"person_to_keep": _ref("Person", keep), "person_to_remove": _ref("Person", remove)}}


def parse(resources: Sequence[dict[str, Any]], included: Sequence[dict[str, Any]] = ()) -> list[Resource]:
    """Resources as the client would hand them over: a parsed JSON:API page."""
    data, extra = [], list(included)
    for resource in resources:
        resource = dict(resource)
        extra.extend(resource.pop("_included", []))
        data.append(resource)
    return parse_document({"data": data, "included": extra, "links": {}, "meta": {}}).records


def land(engine: sa.Engine, resource: str, resources: Sequence[dict[str, Any]], *,
         included: Sequence[dict[str, Any]] = (), listing: bool = False, **kwargs: Any) -> landing.LandingResult:
    """Land one page of `resource`; with `listing`, as the complete listing (removing the unseen)."""
    spec = spec_for(resource)
    current = landing.start_listing(engine, resource) if listing else None
    result = landing.land_page(engine, spec, parse(resources, included), **kwargs)
    if current is not None:
        landing.finish_listing(engine, current, max_removed_fraction=1.0)
    return result


def rows(engine: sa.Engine, sql: str, **params: Any) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def scalar(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def execute(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.begin() as conn:
        return conn.execute(sa.text(sql), params)


def local_person(engine: sa.Engine, first: str, last: str, *, birthdate: str | None = None,
                 emails: Sequence[str] = (), phones: Sequence[str] = (), pco_id: str | None = None,
                 **fields: Any) -> int:
    """A person as the church entered it (emails normalized as local writers must)."""
    from pco_pipeline.sync.normalize import normalize_email, normalize_phone
    columns = {"first_name": first, "last_name": last, "birthdate": birthdate, "pco_id": pco_id, **fields}
    names = ", ".join(columns)
    with engine.begin() as conn:
        person_id = conn.execute(sa.text(
            f"INSERT INTO people ({names}) VALUES ({', '.join(':' + c for c in columns)}) RETURNING id"),
            columns).scalar_one()
        for item in emails:
            conn.execute(sa.text("INSERT INTO person_emails (person_id, address, address_normalized)"
                                 " VALUES (:p, :a, :n)"), {"p": person_id, "a": item, "n": normalize_email(item)})
        for item in phones:
            conn.execute(sa.text("INSERT INTO person_phones (person_id, number, e164) VALUES (:p, :n, :e)"),
                         {"p": person_id, "n": item, "e": normalize_phone(item).e164})
    return person_id
