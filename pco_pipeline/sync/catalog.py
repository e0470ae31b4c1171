"""Which PCO resources the inbound sync lands, and how each one is read and keyed.

A `ResourceSpec` names a resource the way the landing table and `sync_cursor` do
(`people/people`, `groups/memberships`, …) and says how the extract reads it: the path, the
includes, which timestamp an incremental read would follow, which relationship names the owning
record, which included resources are owned children (replaced per parent) or mere side-loads,
and how its attributes are normalized.

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


_SPECS = (
    ResourceSpec("people/people", "/people/v2/people", "Person",
                 include=("emails", "phone_numbers", "addresses"),
                 children={"emails": "people/emails", "phone_numbers": "people/phone_numbers",
                           "addresses": "people/addresses"},
                 normalizer=_ignore_region(n.normalize_person)),
    ResourceSpec("people/emails", "/people/v2/emails", "Email", parent_relationship="person",
                 normalizer=_ignore_region(n.normalize_email_record)),
    ResourceSpec("people/phone_numbers", "/people/v2/phone_numbers", "PhoneNumber",
                 parent_relationship="person", normalizer=n.normalize_phone_record),
    # Addresses cannot be queried by updated_at (PCO ignores the filter): complete listings.
    ResourceSpec("people/addresses", "/people/v2/addresses", "Address", cursor_attribute=None,
                 parent_relationship="person", normalizer=_ignore_region(n.normalize_address_record)),
    # Adding or removing members bumps no updated_at (developers#1253), so households are always
    # listed completely; their `people` relationship is the membership.
    ResourceSpec("people/households", "/people/v2/households", "Household", cursor_attribute=None,
                 normalizer=_ignore_region(n.normalize_household)),
    ResourceSpec("people/household_memberships", "/people/v2/households/{parent_id}/household_memberships",
                 "HouseholdMembership", cursor_attribute=None),
    ResourceSpec("people/person_mergers", "/people/v2/person_mergers", "PersonMerger",
                 cursor_attribute="created_at", normalizer=_ignore_region(n.normalize_person_merger)),
    ResourceSpec("groups/group_types", "/groups/v2/group_types", "GroupType", cursor_attribute=None,
                 normalizer=_ignore_region(n.normalize_group_type)),
    ResourceSpec("groups/groups", "/groups/v2/groups", "Group", cursor_attribute=None,
                 params={"where[archive_status]": "include"},
                 normalizer=_ignore_region(n.normalize_group)),
    ResourceSpec("groups/memberships", "/groups/v2/groups/{parent_id}/memberships", "Membership",
                 cursor_attribute=None, parent_relationship="group",
                 normalizer=_ignore_region(n.normalize_membership)),
    # The service time a check-in was for comes only with `include=event_times` (not a default
    # relationship in PCO's reference).
    ResourceSpec("check-ins/check_ins", "/check-ins/v2/check_ins", "CheckIn",
                 include=("event", "event_times", "locations"),
                 sideloads={"event": "check-ins/events", "event_times": "check-ins/event_times",
                            "locations": "check-ins/locations"},
                 normalizer=_ignore_region(n.normalize_checkin)),
    ResourceSpec("check-ins/events", "/check-ins/v2/events", "Event",
                 normalizer=_ignore_region(n.normalize_checkin_event)),
    ResourceSpec("check-ins/locations", "/check-ins/v2/locations", "Location",
                 normalizer=_ignore_region(n.normalize_location)),
    # Stations and labels (kiosk and printer settings) are not read: nothing in the church
    # database holds them. Service times and the headcounts taken at them are.
    ResourceSpec("check-ins/event_times", "/check-ins/v2/event_times", "EventTime", parent_relationship="event",
                 normalizer=_ignore_region(n.normalize_event_time)),
    ResourceSpec("check-ins/headcounts", "/check-ins/v2/headcounts", "Headcount",
                 include=("attendance_type",), parent_relationship="event_time",
                 sideloads={"attendance_type": "check-ins/attendance_types"},
                 normalizer=_ignore_region(n.normalize_headcount)),
    ResourceSpec("check-ins/attendance_types", "/check-ins/v2/attendance_types", "AttendanceType",
                 parent_relationship="event", normalizer=_ignore_region(n.normalize_attendance_type)),
    ResourceSpec("calendar/events", "/calendar/v2/events", "Event",
                 normalizer=_ignore_region(n.normalize_calendar_event)),
    ResourceSpec("calendar/event_instances", "/calendar/v2/event_instances", "EventInstance",
                 include=("event",), parent_relationship="event", sideloads={"event": "calendar/events"},
                 normalizer=_ignore_region(n.normalize_event_instance)),
)

RESOURCES: Mapping[str, ResourceSpec] = MappingProxyType({spec.name: spec for spec in _SPECS})


def spec_for(name: str) -> ResourceSpec:
    """The spec named `name`; KeyError lists the known names."""
    try:
        return RESOURCES[name]
    except KeyError:
        raise KeyError(f"unknown PCO resource {name!r}; known: {', '.join(RESOURCES)}") from None
