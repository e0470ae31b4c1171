"""A deterministic synthetic church's PCO organization (People, Groups, Check-Ins, Calendar).

    organization = generate_organization(people=2000, seed=1)
    organization.pco["people/people"]   # JSON:API resource objects, as live PCO returns them
    organization.people, .groups        # the generator's model the resources were rendered from

The same (people, seed, now) always gives identical output. The church's own database that
overlaps this organization, and the matcher's answer key, are the church's side, not PCO's:
`pco_pipeline.demo_data` builds them from `people` and `groups` (the model types and generator
helpers it needs are exported here, the one module of the sandbox it reads).

PCO resources
-------------
`pco` maps "<app>/<collection>" to resource objects `{"type", "id", "attributes",
"relationships"}` with live PCO's attribute names and value types (People ones checked against
the recordings in shared/pco_golden). Collections: people/{people, emails, phone_numbers,
addresses, households, household_memberships, person_mergers, campuses}, groups/{groups,
group_types, memberships}, check-ins/{events, event_periods, event_times, locations, stations,
labels, attendance_types, check_ins, headcounts}, calendar/{events, event_instances}. Each list
is in id order; ids are numeric strings ascending with created_at.

- No `links`: they depend on the server's base URL, so the sandbox adds them.
- `relationships` hold every link the sandbox needs, including ones live PCO only shows with an
  `include` (CheckIn event, locations, event_times, checked_in_at; Location event) or never
  (HouseholdMembership household: its parent is only in the URL, so the sandbox keeps it
  hidden); the sandbox decides what to render. A to-one that is unset is `{"data": null}`.
- Timestamps are "YYYY-MM-DDTHH:MM:SSZ" (UTC), dates "YYYY-MM-DD"; every created_at,
  updated_at, inactivated_at, birthdate, joined_at and check-in time is before `now`. Only
  calendar event instances (and their published times) extend up to eight weeks after `now`.
- PersonMerger.person_to_remove ids appear nowhere else: those people are gone from /people.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from pco_sandbox import seed_vocab as vocab
from pco_sandbox.seed_calendar import generate_calendar
from pco_sandbox.seed_checkins import generate_check_ins
from pco_sandbox.seed_groups import GroupsApp, generate_groups
from pco_sandbox.seed_people import (
    ORGANIZATION, Household, Merger, PeopleApp, Person, PhoneText, ascii_fold, generate_people, street_address,
)
from pco_sandbox.seed_support import UTC, between, stream

__all__ = [
    "DEFAULT_NOW", "SyntheticOrganization", "generate_organization", "without_cyclic_gc",
    # The generator's model and helpers, for the church-side dataset built on top of it.
    "ORGANIZATION", "UTC", "GroupsApp", "Household", "Merger", "PeopleApp", "Person", "PhoneText",
    "ascii_fold", "between", "street_address", "stream", "vocab",
]

# A Sunday morning before services (06:00 in Springfield, IL).
DEFAULT_NOW = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


@dataclass(slots=True)
class SyntheticOrganization:
    pco: dict[str, list[dict]]  # "<app>/<collection>" -> resource objects (see the module docstring)
    organization: dict          # id, name, time_zone, country_code, date_format
    now: datetime
    people: PeopleApp           # the model `pco` was rendered from
    groups: GroupsApp


def generate_organization(people: int = 2000, seed: int = 1, now: datetime = DEFAULT_NOW) -> SyntheticOrganization:
    """A PCO organization of exactly `people` people (see the module docstring)."""
    if people < 1:
        raise ValueError(f"people must be at least 1, got {people}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC).replace(microsecond=0)
    with without_cyclic_gc():
        people_app = generate_people(people, seed, now)
        groups_app = generate_groups(people_app, seed, now)
        pco = people_app.render()
        pco.update(groups_app.render())
        pco.update(generate_check_ins(people_app, seed, now))
        pco.update(generate_calendar(people_app, seed, now))
    return SyntheticOrganization(pco=pco, organization=dict(ORGANIZATION), now=now,
                                 people=people_app, groups=groups_app)


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """The generators allocate millions of small objects and free none: the cyclic collector
    would rescan them all repeatedly (doubling the run time) for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
