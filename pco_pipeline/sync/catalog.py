"""The one catalog of the PCO resources the pipeline reads: how each is read, keyed and landed,
which `pco/*` asset lands it, and which webhook events report on it.

A `ResourceSpec` names a resource the way the landing table and `sync_cursor` do
(`people/people`, `groups/memberships`, …) and says how the extract reads it: the path, the
includes, which timestamp an incremental read would follow, which relationship names the owning
record, which included resources are owned children (replaced per parent) or mere side-loads,
and how its attributes are normalized. A resource read on its own has an `Extract` (its `pco/*`
asset: name, description, preview label, job); one PCO sends webhooks about that the pipeline
applies has `WebhookEvents`. The church side (loads, tables, reconciliation) is in `registry`,
which holds this catalog as its PCO resources.

Whether a resource is read incrementally is not decided here but by PCO's reference
(`pco_reference`, the table the sandbox and the client obey too): only a listing PCO
can both order and filter by the cursor timestamp can be keyset-paged on it; every other read is
a complete listing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pco_reference import capability
from pco_pipeline.sync import normalize as n

Normalizer = Callable[[Mapping[str, Any], str], dict[str, Any]]

# What PCO's webhook events can say about a record.
ACTIONS = ("created", "updated", "destroyed")


@dataclass(frozen=True)
class Extract:
    """The `pco/*` asset that reads a resource and lands it (with its children and side-loads)."""

    asset: str                    # asset key pco/<asset>; its step is the op pco__<asset>
    description: str
    label_sql: str                # SQL expression over pco_landing `l` naming a record in previews
    job: str                      # the inbound job that runs it (registry.JOBS)
    deps: tuple[str, ...] = ()    # pco/* assets read first (a nested listing walks its parents' ids)


@dataclass(frozen=True)
class WebhookEvents:
    """The webhook events about a resource that the pipeline subscribes to and applies."""

    subject: str                           # e.g. people.v2.events.person (the event name without action)
    actions: tuple[str, ...] = ACTIONS     # one PCO subscription per subject.action

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"{self.subject}.{action}" for action in self.actions)


def _ignore_region(function: Callable[[Mapping[str, Any]], dict[str, Any]]) -> Normalizer:
    return lambda attributes, _region: function(attributes)


@dataclass(frozen=True)
class ResourceSpec:
    """How one PCO resource is read and landed."""

    name: str                                   # landing / cursor key, e.g. "people/people"
    path: str                                   # API path; "{parent_id}" for nested listings
    pco_type: str                               # JSON:API type, e.g. "Person"
    # Timestamp an incremental read would follow (`where[<attr>][gte]`, `order=<attr>`); None when
    # the pipeline never wants one. It is used only where PCO's reference allows both (`cursor`).
    cursor_attribute: str | None = "updated_at"
    include: tuple[str, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)
    # Relationship that names the owning record (Email → person); nested listings pass the
    # parent id from their URL instead.
    parent_relationship: str | None = None
    # relationship → child resource landed from `included` and replaced per parent: when the
    # parent is landed with that relationship, children it no longer names are marked removed.
    children: Mapping[str, str] = field(default_factory=dict)
    # relationship → resource landed from `included` as is (no removal, no cursor).
    sideloads: Mapping[str, str] = field(default_factory=dict)
    normalizer: Normalizer | None = None
    extract: Extract | None = None              # None: landed only through another resource's read
    webhooks: WebhookEvents | None = None       # None: no webhook the pipeline applies

    @property
    def cursor(self) -> str | None:
        """The timestamp incremental reads keyset on: `cursor_attribute` when PCO's reference says
        this listing can be both ordered and filtered by it, else None (complete listings only)."""
        if self.cursor_attribute is not None and not self.nested \
                and capability(self.name).keyset_on(self.cursor_attribute):
            return self.cursor_attribute
        return None

    @property
    def incremental(self) -> bool:
        return self.cursor is not None

    @property
    def nested(self) -> bool:
        return "{parent_id}" in self.path


def _attr(name: str) -> str:
    return f"(l.attributes->>'{name}')"


_PERSON_LABEL = f"concat_ws(' ', {_attr('first_name')}, {_attr('last_name')})"

_SPECS = (
    ResourceSpec("people/people", "/people/v2/people", "Person",
                 include=("emails", "phone_numbers", "addresses"),
                 children={"emails": "people/emails", "phone_numbers": "people/phone_numbers",
                           "addresses": "people/addresses"},
                 normalizer=_ignore_region(n.normalize_person),
                 extract=Extract("people", "PCO People with their emails, phone numbers and addresses (one request "
                                           "per 100 people). Incremental on updated_at; a full refresh also finds "
                                           "people deleted in PCO.", _PERSON_LABEL, job="sync_people"),
                 webhooks=WebhookEvents("people.v2.events.person")),
    ResourceSpec("people/emails", "/people/v2/emails", "Email", parent_relationship="person",
                 normalizer=_ignore_region(n.normalize_email_record),
                 webhooks=WebhookEvents("people.v2.events.email")),
    ResourceSpec("people/phone_numbers", "/people/v2/phone_numbers", "PhoneNumber",
                 parent_relationship="person", normalizer=n.normalize_phone_record,
                 webhooks=WebhookEvents("people.v2.events.phone_number")),
    # Addresses cannot be queried by updated_at (PCO ignores the filter): complete listings.
    ResourceSpec("people/addresses", "/people/v2/addresses", "Address", cursor_attribute=None,
                 parent_relationship="person", normalizer=_ignore_region(n.normalize_address_record),
                 webhooks=WebhookEvents("people.v2.events.address")),
    # Adding or removing members bumps no updated_at (developers#1253), so households are always
    # listed completely; their `people` relationship is the membership.
    ResourceSpec("people/households", "/people/v2/households", "Household", cursor_attribute=None,
                 normalizer=_ignore_region(n.normalize_household),
                 extract=Extract("households", "PCO households with their members. Listed completely every time: "
                                               "adding or removing a member bumps no updated_at in PCO.",
                                 _attr("name"), job="sync_families"),
                 webhooks=WebhookEvents("people.v2.events.household")),
    ResourceSpec("people/household_memberships", "/people/v2/households/{parent_id}/household_memberships",
                 "HouseholdMembership", cursor_attribute=None),
    ResourceSpec("people/person_mergers", "/people/v2/person_mergers", "PersonMerger",
                 cursor_attribute="created_at", normalizer=_ignore_region(n.normalize_person_merger),
                 extract=Extract("person_mergers", "PCO's log of merged people (kept id, removed id), incremental "
                                                   "on created_at.",
                                 f"{_attr('person_to_remove_id')} || ' → ' || {_attr('person_to_keep_id')}",
                                 job="sync_people"),
                 # A merger is only ever created.
                 webhooks=WebhookEvents("people.v2.events.person_merger", ("created",))),
    ResourceSpec("groups/group_types", "/groups/v2/group_types", "GroupType", cursor_attribute=None,
                 normalizer=_ignore_region(n.normalize_group_type),
                 extract=Extract("group_types", "PCO group types (complete listing).", _attr("name"),
                                 job="sync_groups")),
    ResourceSpec("groups/groups", "/groups/v2/groups", "Group", cursor_attribute=None,
                 params={"where[archive_status]": "include"},
                 normalizer=_ignore_region(n.normalize_group),
                 extract=Extract("groups", "PCO groups, archived included (complete listing: Groups has no "
                                           "updated_at).", _attr("name"), job="sync_groups")),
    ResourceSpec("groups/memberships", "/groups/v2/groups/{parent_id}/memberships", "Membership",
                 cursor_attribute=None, parent_relationship="group",
                 normalizer=_ignore_region(n.normalize_membership),
                 extract=Extract("group_memberships", "Memberships of every landed group (one listing per group; "
                                                      "no timestamps in PCO).",
                                 f"{_attr('role')} || ' of group ' || l.parent_pco_id", job="sync_groups",
                                 deps=("groups",)),
                 webhooks=WebhookEvents("groups.v2.events.membership")),
    # The service time a check-in was for comes only with `include=event_times` (not a default
    # relationship in PCO's reference). Check-Ins sends no webhooks.
    ResourceSpec("check-ins/check_ins", "/check-ins/v2/check_ins", "CheckIn",
                 include=("event", "event_times", "locations"),
                 sideloads={"event": "check-ins/events", "event_times": "check-ins/event_times",
                            "locations": "check-ins/locations"},
                 normalizer=_ignore_region(n.normalize_checkin),
                 extract=Extract("checkins", "PCO check-ins with their event, service time and locations, "
                                             "incremental on updated_at. Read-only in PCO.", _PERSON_LABEL,
                                 job="sync_checkins")),
    ResourceSpec("check-ins/events", "/check-ins/v2/events", "Event",
                 normalizer=_ignore_region(n.normalize_checkin_event),
                 extract=Extract("checkin_events", "PCO Check-Ins events (complete listing: PCO can neither order "
                                                   "nor filter them by updated_at).", _attr("name"),
                                 job="sync_checkins")),
    ResourceSpec("check-ins/locations", "/check-ins/v2/locations", "Location",
                 normalizer=_ignore_region(n.normalize_location),
                 extract=Extract("checkin_locations", "PCO check-in locations, rooms and folders (complete listing: "
                                                      "PCO can query them by nothing).", _attr("name"),
                                 job="sync_checkins")),
    # Stations and labels (kiosk and printer settings) are not read: nothing in the church
    # database holds them (registry.NOT_READ). Service times and the headcounts taken at them are.
    ResourceSpec("check-ins/event_times", "/check-ins/v2/event_times", "EventTime", parent_relationship="event",
                 normalizer=_ignore_region(n.normalize_event_time),
                 extract=Extract("checkin_event_times", "Service times of PCO Check-Ins events (complete listing: "
                                                        "PCO cannot order them by updated_at).",
                                 f"{_attr('name')} || ' ' || {_attr('starts_at')}", job="sync_checkins")),
    ResourceSpec("check-ins/headcounts", "/check-ins/v2/headcounts", "Headcount",
                 include=("attendance_type",), parent_relationship="event_time",
                 sideloads={"attendance_type": "check-ins/attendance_types"},
                 normalizer=_ignore_region(n.normalize_headcount),
                 extract=Extract("headcounts", "PCO headcounts (attendance counted without check-ins) with their "
                                               "attendance type, incremental on updated_at.", _attr("total"),
                                 job="sync_checkins")),
    ResourceSpec("check-ins/attendance_types", "/check-ins/v2/attendance_types", "AttendanceType",
                 parent_relationship="event", normalizer=_ignore_region(n.normalize_attendance_type)),
    # Calendar: no webhooks the pipeline applies.
    ResourceSpec("calendar/events", "/calendar/v2/events", "Event",
                 normalizer=_ignore_region(n.normalize_calendar_event),
                 extract=Extract("calendar_events", "PCO Calendar events (complete listing: PCO can filter them by "
                                                    "updated_at but order them by nothing).", _attr("name"),
                                 job="sync_calendar")),
    ResourceSpec("calendar/event_instances", "/calendar/v2/event_instances", "EventInstance",
                 include=("event",), parent_relationship="event", sideloads={"event": "calendar/events"},
                 normalizer=_ignore_region(n.normalize_event_instance),
                 extract=Extract("event_instances", "PCO Calendar event instances (one row per occurrence), "
                                                    "incremental.", _attr("starts_at"), job="sync_calendar")),
)

RESOURCES: Mapping[str, ResourceSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})


def spec_for(name: str) -> ResourceSpec:
    """The spec named `name`; KeyError lists the known names."""
    try:
        return RESOURCES[name]
    except KeyError:
        raise KeyError(f"unknown PCO resource {name!r}; known: {', '.join(RESOURCES)}") from None
