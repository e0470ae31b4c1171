"""The entity registry: one declaration per synced entity, from which the inbound assets, jobs,
asset checks, reconciliation and the webhook event map are generated (`defs/inbound/build.py`,
`defs/outbound/jobs.py`, `reconcile`, `webhook_events`).

- PCO resources are the catalog's `ResourceSpec`s (`catalog.py`): how each is read and landed,
  its `pco/*` asset, its job and its webhook events.
- A `ChurchEntity` is one load and what it writes: its `church/*` asset(s), the `Table`s it fills
  (load counts, quarantine entity, reconciliation, pco_id uniqueness check) with each table's
  **field map** — the one place that says who owns each field — and the push(es) that send the
  church's records of it to PCO.
- `Job`s name and describe the inbound jobs; `full_sync` runs every inbound asset and
  `sync_incremental` the resources PCO lets the extract keyset-read, with the loads that read them.

`DEFAULT` is the registry the code location, reconciliation and webhooks use. A new resource is
one `ResourceSpec` and one `ChurchEntity` (plus its SQL: the `pco_state` view, the load);
`Registry.extended` adds entries to a registry (the tests add a toy resource that way).

Who owns a field (`Field.owner`):
- `PCO`: the load writes PCO's value over the church's, and reconciliation compares it. A
  `differs` predicate narrows the comparison where ownership depends on the row (a membership
  the church made keeps its own leader type).
- `CHURCH`: the church's own data. No load writes it and no push sends it to PCO.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import sqlalchemy as sa

from pco_pipeline.sync import pco_state
from pco_pipeline.sync.catalog import RESOURCES, ResourceSpec
from pco_pipeline.sync.families_push import FAMILIES
from pco_pipeline.sync.load_checkins import load_checkins, load_events
from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_groups import load_group_memberships, load_groups, open_needs_action
from pco_pipeline.sync.incremental import WindowedReport
from pco_pipeline.sync.load_people import PeopleLoadResult, load_people
from pco_pipeline.sync.loading import LoadCounts
from pco_pipeline.sync.memberships_push import GROUP_MEMBERSHIPS
from pco_pipeline.sync.people_push import PEOPLE
from pco_pipeline.sync.push_engine import PushKind

PCO = "pco"
CHURCH = "church"


class RegistryError(ValueError):
    """A registry whose entries do not fit together; the message names the entry and the name."""


# --- fields and tables ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One column of a church table, and who owns it (see the module docstring)."""

    name: str
    owner: str = PCO
    # Reconciliation: SQL over `e` (PCO) and `l` (local), true when they differ. Default: any difference.
    differs: str | None = None
    why: str = ""

    @property
    def difference_sql(self) -> str:
        return self.differs or f"e.{self.name} IS DISTINCT FROM l.{self.name}"


def pco_fields(*names: str) -> tuple[Field, ...]:
    """Fields PCO owns, compared plainly."""
    return tuple(Field(name) for name in names)


def church_field(name: str, why: str) -> Field:
    return Field(name, CHURCH, why=why)


@dataclass(frozen=True)
class Comparison:
    """How reconciliation compares one entity: PCO's rows (`expected_sql`, with `pco_id` and
    `problems`), the church's (`local_sql`, with `pco_id`), and per field the SQL predicate over
    `e` and `l` that is true when they differ."""

    entity: str
    expected_sql: str
    local_sql: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class Table:
    """One kind of church row a load writes: the name its load counts, quarantine rows and
    reconciliation use (`entity`), the SQL table holding it, and its field map."""

    entity: str
    table: str
    fields: tuple[Field, ...]
    pco_sql: str | None = None       # PCO's state (a pco_state query); with local_sql: reconciled
    local_sql: str | None = None     # the church's mirror rows, keyed by pco_id
    # Whether this entity's asset checks `table`'s pco_id for duplicates. False for a table without
    # pco_id, or one whose rows another entity's asset already checks (one check per table).
    unique_pco_id: bool = True

    def owned_by(self, owner: str) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.owner == owner)

    @property
    def comparison(self) -> Comparison | None:
        """What reconciliation compares: the PCO-owned fields, when both sides' SQL is declared."""
        if self.pco_sql is None or self.local_sql is None:
            return None
        return Comparison(self.entity, self.pco_sql, self.local_sql,
                          MappingProxyType({f.name: f.difference_sql for f in self.fields if f.owner == PCO}))


# --- church assets, loads, pushes -----------------------------------------------------------------

# How a count is shown in a summary line → the LoadCounts field it reads.
_SHOWN_COUNTS = {"created": "created", "updated": "updated", "deactivated": "deactivated", "removed": "deactivated"}


@dataclass(frozen=True)
class Summary:
    """Another table of the load shown in an asset's metadata as `label: created/updated/…`."""

    entity: str
    shown: tuple[str, ...] = ("created", "updated", "deactivated")
    label: str | None = None       # default: the entity

    def line(self, counts: LoadCounts) -> tuple[str, str]:
        return (f"{self.label or self.entity}: {'/'.join(self.shown)}",
                "/".join(str(getattr(counts, _SHOWN_COUNTS[name])) for name in self.shown))


@dataclass(frozen=True)
class ChurchAsset:
    """A `church/*` asset: what it shows (its own table's counts, row count and preview, and
    summaries of the load's other tables) and what it reads."""

    name: str                                  # asset key church/<name>
    description: str
    entity: str                                # the Table whose counts, row count and preview it shows
    preview_columns: str
    reads: tuple[str, ...] = ()                # pco/* assets it loads from
    after: tuple[str, ...] = ()                # church/* assets loaded first
    summaries: tuple[Summary, ...] = ()
    quarantine_check: tuple[str, ...] = ()     # entities whose open quarantine rows its check counts


@dataclass(frozen=True)
class LoadOutcome:
    """What one load did: counts per entity (Table.entity), and figures worth showing on the
    entity's first asset (people: how each person was matched)."""

    counts: Mapping[str, LoadCounts]
    facts: Mapping[str, int] = field(default_factory=dict)


Load = Callable[[sa.Engine], LoadOutcome]


def counts_only(load: Callable[[sa.Engine], Mapping[str, LoadCounts]]) -> Load:
    """A load reporting only its counts."""
    return lambda engine: LoadOutcome(load(engine))


def incremental(load: Callable[..., WindowedReport]) -> Load:
    """An incremental load (`sync.incremental`: what changed since its last run, a full comparison
    after the nightly full refresh) reporting its counts and its window (full_comparison,
    records_looked_at, and drifted_records for a drift check)."""
    def run(engine: sa.Engine) -> LoadOutcome:
        report = load(engine, incremental=True)
        return LoadOutcome(report, report.facts())
    return run


@dataclass(frozen=True)
class Push:
    """A push that sends the church's records of an entity to PCO (`push_engine.PushKind`), and the
    outbound job running it alone."""

    kind: PushKind
    job: str
    job_description: str
    op: str                        # its step, in its own job and in full_push
    op_description: str
    parallel: bool = False         # records pushed by several workers at once (a run says how many)


@dataclass(frozen=True)
class ChurchEntity:
    """One load: the tables it writes (in the order it writes them), the assets showing them,
    its job, and its pushes."""

    name: str
    load: Load
    tables: tuple[Table, ...]
    assets: tuple[ChurchAsset, ...]
    job: str
    pushes: tuple[Push, ...] = ()

    def table(self, entity: str) -> Table:
        return next(t for t in self.tables if t.entity == entity)


@dataclass(frozen=True)
class Job:
    name: str
    description: str


# --- the registry ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Registry:
    """Every synced entity; derived views for the code that generates from it. Construction
    checks that the entries fit together (RegistryError names the entry)."""

    resources: tuple[ResourceSpec, ...]
    entities: tuple[ChurchEntity, ...]
    jobs: tuple[Job, ...]
    full_sync: Job
    incremental_sync: Job
    full_push: Job
    # PCO resources in PCO's reference (pco_reference/capabilities.toml) deliberately not read, and why.
    not_read: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate(self)

    def extended(self, *, resources: Iterable[ResourceSpec] = (), entities: Iterable[ChurchEntity] = (),
                 jobs: Iterable[Job] = ()) -> Registry:
        """This registry with more entries."""
        return replace(self, resources=(*self.resources, *resources), entities=(*self.entities, *entities),
                       jobs=(*self.jobs, *jobs))

    # PCO side
    @property
    def extracts(self) -> tuple[ResourceSpec, ...]:
        """The resources read on their own, each by its `pco/*` asset."""
        return tuple(spec for spec in self.resources if spec.extract is not None)

    def landing_asset(self, resource: str) -> str:
        """The `pco/*` asset whose read lands `resource` (itself, or as an owned child: emails are
        landed by `pco/people`)."""
        for spec in self.extracts:
            if resource == spec.name or resource in spec.children.values():
                assert spec.extract is not None
                return spec.extract.asset
        raise KeyError(f"no pco/* asset lands {resource!r}")

    @property
    def event_resources(self) -> Mapping[str, ResourceSpec]:
        """Webhook event subject (people.v2.events.person) → the resource it changes."""
        return MappingProxyType({spec.webhooks.subject: spec for spec in self.resources if spec.webhooks})

    @property
    def subscribed_events(self) -> tuple[str, ...]:
        """Every event name the pipeline subscribes to (one PCO subscription each)."""
        return tuple(name for spec in self.resources if spec.webhooks for name in spec.webhooks.names)

    # church side
    @property
    def church_assets(self) -> tuple[ChurchAsset, ...]:
        return tuple(asset for entity in self.entities for asset in entity.assets)

    def entity_of_table(self, entity: str) -> tuple[ChurchEntity, ChurchAsset]:
        """The load writing the table named `entity`, and the asset that shows it (as its own table
        or in a summary)."""
        for church in self.entities:
            for asset in church.assets:
                if entity == asset.entity or entity in (s.entity for s in asset.summaries):
                    return church, asset
        raise KeyError(f"no church/* asset shows {entity!r}")

    @property
    def comparisons(self) -> tuple[Comparison, ...]:
        """What reconciliation compares, entity by entity in load order."""
        return tuple(t.comparison for entity in self.entities for t in entity.tables if t.comparison is not None)

    @property
    def pushes(self) -> tuple[Push, ...]:
        """Every push, in the order full_push runs them."""
        return tuple(push for entity in self.entities for push in entity.pushes)

    # jobs
    def job_assets(self, job: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The `pco/*` and `church/*` asset names `job` runs (`full_sync`: all of them)."""
        every = job == self.full_sync.name
        if not every and job not in {j.name for j in self.jobs}:
            raise KeyError(f"unknown inbound job {job!r}; known: {', '.join(j.name for j in self.jobs)}, "
                           f"{self.full_sync.name}")
        extracts = tuple(s.extract.asset for s in self.extracts if s.extract and (every or s.extract.job == job))
        loads = tuple(a.name for e in self.entities if every or e.job == job for a in e.assets)
        return extracts, loads

    def incremental_assets(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """What `sync_incremental` runs: the resources PCO can both order and filter by their cursor
        timestamp (keyset reads, cheap to poll), and every load reading one of them (all of that
        load's assets: one load is one step)."""
        extracts = tuple(s.extract.asset for s in self.extracts if s.extract and s.incremental)
        loads = tuple(a.name for e in self.entities if any(set(a.reads) & set(extracts) for a in e.assets)
                      for a in e.assets)
        return extracts, loads


def _validate(registry: Registry) -> None:
    def unique(kind: str, names: list[str]) -> set[str]:
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise RegistryError(f"{kind} declared twice: {', '.join(duplicated)}")
        return set(names)

    resources = unique("PCO resources", [s.name for s in registry.resources])
    extracts = unique("pco/* assets", [s.extract.asset for s in registry.resources if s.extract])
    jobs = unique("jobs", [j.name for j in registry.jobs])
    church = unique("church/* assets", [a.name for a in registry.church_assets])
    unique("church entities", [e.name for e in registry.entities])
    tables = unique("tables (entities of loads)", [t.entity for e in registry.entities for t in e.tables])
    unique("push ops", [p.op for p in registry.pushes])
    unique("push jobs", [p.job for p in registry.pushes])
    for spec in registry.resources:
        for child in (*spec.children.values(), *spec.sideloads.values()):
            if child not in resources:
                raise RegistryError(f"PCO resource {spec.name}: lands {child!r}, which the registry does not declare")
        if spec.extract is not None:
            if spec.extract.job not in jobs:
                raise RegistryError(f"pco/{spec.extract.asset}: job {spec.extract.job!r} is not declared")
            if missing := sorted(set(spec.extract.deps) - extracts):
                raise RegistryError(f"pco/{spec.extract.asset}: depends on undeclared pco/* assets {missing}")
    for entity in registry.entities:
        if entity.job not in jobs:
            raise RegistryError(f"church entity {entity.name}: job {entity.job!r} is not declared")
        own = {t.entity for t in entity.tables}
        for asset in entity.assets:
            shown = [asset.entity, *(s.entity for s in asset.summaries)]
            if missing := sorted(set(shown) - own):
                raise RegistryError(f"church/{asset.name}: shows {missing}, not tables of load {entity.name}")
            if missing := sorted(set(asset.quarantine_check) - tables):
                raise RegistryError(f"church/{asset.name}: quarantine check of undeclared entities {missing}")
            if missing := sorted(set(asset.reads) - extracts):
                raise RegistryError(f"church/{asset.name}: reads undeclared pco/* assets {missing}")
            if missing := sorted(set(asset.after) - church):
                raise RegistryError(f"church/{asset.name}: after undeclared church/* assets {missing}")
    checked = [t.table for e in registry.entities for t in e.tables if t.unique_pco_id]
    unique("pco_id uniqueness checks of tables", checked)


# --- the declarations -----------------------------------------------------------------------------

def _where(table: str, condition: str, fields: tuple[Field, ...]) -> str:
    """The church's mirror rows of a table with no joins: pco_id and the PCO-owned fields."""
    columns = ", ".join(f.name for f in fields if f.owner == PCO)
    return f"SELECT pco_id, {columns} FROM {table} WHERE {condition}"


_PEOPLE_FIELDS = (
    *pco_fields("first_name", "last_name", "nickname", "middle_name", "gender", "birthdate", "child", "grade",
                "status", "membership"),
    church_field("allergies", "the church's care record; PCO's medical notes are never read"),
    church_field("photo_url", "the church's own photo"),
    church_field("is_verified", "verified by church staff"),
)
_FAMILY_FIELDS = (
    *pco_fields("name", "street_line_1", "street_line_2", "city", "state", "zip", "country_code"),
)
_EVENT_FIELDS = pco_fields("name", "description", "starts_at", "ends_at", "all_day", "location")

def _people_outcome(result: PeopleLoadResult) -> LoadOutcome:
    """People's counts, how each PCO person was matched, whether the load compared everyone or
    only what changed since its last run, and (a full load) the drift check (shown on church/people)."""
    matches = result.matches
    drift = {} if result.drifted_records is None else {"drifted_records": result.drifted_records}
    return LoadOutcome(result.counts, {
        "matched_by_pco_id": matches.by_pco_id, "matched_by_email": matches.by_email,
        "matched_by_name_birthdate": matches.by_name_birthdate, "ambiguous": matches.ambiguous,
        "merges_applied": result.merges_applied, "full_comparison": int(result.full),
        "people_looked_at": result.looked_at or 0, **drift})


PEOPLE_ENTITY = ChurchEntity(
    "people",
    load=lambda engine: _people_outcome(load_people(engine, incremental=True)),
    tables=(
        Table("people", "people", _PEOPLE_FIELDS, pco_state.PEOPLE,
              _where("people", "pco_id IS NOT NULL AND is_active", _PEOPLE_FIELDS)),
        Table("person_emails", "person_emails",
              pco_fields("person_pco_id", "address", "address_normalized", "location", "is_primary"),
              pco_state.PERSON_EMAILS,
              "SELECT c.pco_id, p.pco_id AS person_pco_id, c.address, c.address_normalized, c.location, c.is_primary"
              " FROM person_emails c JOIN people p ON p.id = c.person_id WHERE c.pco_id IS NOT NULL AND p.is_active"),
        Table("person_phones", "person_phones",
              pco_fields("person_pco_id", "number", "e164", "location", "is_primary"),
              pco_state.PERSON_PHONES,
              "SELECT c.pco_id, p.pco_id AS person_pco_id, c.number, c.e164, c.location, c.is_primary"
              " FROM person_phones c JOIN people p ON p.id = c.person_id WHERE c.pco_id IS NOT NULL AND p.is_active"),
    ),
    assets=(ChurchAsset(
        "people", entity="people", reads=("people", "person_mergers"),
        description="PCO people matched to church people (pco_id → email → name + birthdate → create) and "
                    "upserted with their emails and phones. PCO owns names, demographics and contacts; the "
                    "church's own fields are never overwritten. People gone from PCO become inactive; merges "
                    "re-point links to the surviving person. Ambiguous matches are quarantined, not guessed.",
        preview_columns="id, pco_id, first_name, last_name, birthdate, status, is_active",
        summaries=(Summary("person_emails"), Summary("person_phones")),
        quarantine_check=("people", "person_emails", "person_phones")),),
    job="sync_people",
    pushes=(Push(PEOPLE, "push_people",
                 "Church people PCO lacks → PCO people (with emails, phones, family address). Set dry_run to see "
                 "the plan without sending anything.",
                 "people_to_pco",
                 "Creates church people PCO lacks (remote_id = local id) with their emails, phones and family "
                 "address; stores each PCO id as soon as PCO confirms it. Crash-safe: a create whose answer was "
                 "lost is found by remote_id, not made twice.", parallel=True),),
)


FAMILIES_ENTITY = ChurchEntity(
    "families",
    load=incremental(load_families),
    tables=(
        Table("families", "families", _FAMILY_FIELDS, pco_state.FAMILIES,
              _where("families", "pco_id IS NOT NULL AND pco_removed_at IS NULL", _FAMILY_FIELDS)),
        Table("family_members", "family_members",
              (*pco_fields("is_primary_contact"),
               church_field("role", "derived when the member is added, then the church's (PCO has no such roles)")),
              pco_state.FAMILY_MEMBERS,
              "SELECT f.pco_id || ':' || p.pco_id AS pco_id, fm.is_primary_contact"
              " FROM family_members fm JOIN families f ON f.id = fm.family_id JOIN people p ON p.id = fm.person_id"
              " WHERE f.pco_id IS NOT NULL AND f.pco_removed_at IS NULL AND p.pco_id IS NOT NULL",
              unique_pco_id=False),
    ),
    assets=(ChurchAsset(
        "families", entity="families", reads=("households",), after=("people",),
        description="PCO households → families and family members; the primary contact's PCO address "
                    "becomes the family address (the church keeps addresses on the family).",
        preview_columns="id, pco_id, name, city, state",
        summaries=(Summary("family_members", ("created", "updated", "removed"), label="members"),),
        quarantine_check=("families", "family_members")),),
    job="sync_families",
    pushes=(Push(FAMILIES, "push_families",
                 "Church families → PCO households, and new members → household members. Run after push_people.",
                 "families_to_pco",
                 "Creates PCO households for church families whose members are in PCO (with the primary contact), "
                 "and adds members PCO's households lack with pending: false."),),
)

def _load_groups_reporting_needs_action(engine: sa.Engine) -> LoadOutcome:
    """The incremental groups load; its report also says how many church edits of groups wait to
    be made in PCO (PCO's API cannot take them: `load_groups`)."""
    outcome = incremental(load_groups)(engine)
    with engine.connect() as conn:
        return LoadOutcome(outcome.counts, {**outcome.facts, "needs_action_in_pco": open_needs_action(conn)})


GROUPS_ENTITY = ChurchEntity(
    "church_groups",
    load=_load_groups_reporting_needs_action,
    tables=(
        Table("church_groups", "church_group",
              (*pco_fields("name", "description", "is_active"),
               Field("meeting_day", differs="e.meeting_day IS NOT NULL AND e.meeting_day IS DISTINCT FROM l.meeting_day",
                     why="PCO's schedule names a day only sometimes; otherwise the day is the church's"),
               church_field("parent_id", "where a group sits in the hierarchy is the church's once it exists")),
              f"SELECT pco_id, name, description, true AS is_active, CAST(NULL AS text) AS meeting_day, problems"
              f" FROM ({pco_state.GROUP_AREAS}) a"
              f" UNION ALL SELECT pco_id, name, description, is_active, meeting_day, problems FROM ({pco_state.GROUPS}) g",
              "SELECT pco_id, name, description, is_active, meeting_day FROM church_group"
              " WHERE pco_id IS NOT NULL AND level IN (2, 3) AND pco_removed_at IS NULL"),
    ),
    assets=(ChurchAsset(
        "church_groups", entity="church_groups", reads=("groups", "group_types"),
        description="PCO groups under an auto-created 'PCO Groups' department, one area per group type.",
        preview_columns="id, pco_id, level, name, parent_id"),),
    job="sync_groups",
)

_CHURCH_MADE = "a membership the church made keeps its own"
MEMBERSHIPS_ENTITY = ChurchEntity(
    "group_memberships",
    load=incremental(load_group_memberships),
    tables=(
        Table("group_memberships", "group_membership",
              (*pco_fields("group_pco_id", "person_pco_id"),
               Field("leader_type", differs="l.source = 'pco' AND e.leader_type IS DISTINCT FROM l.leader_type",
                     why=_CHURCH_MADE),
               Field("joined_at", differs="l.source = 'pco' AND e.joined_at IS DISTINCT FROM l.joined_at",
                     why=_CHURCH_MADE)),
              pco_state.GROUP_MEMBERSHIPS,
              "SELECT gm.pco_id, g.pco_id AS group_pco_id, p.pco_id AS person_pco_id, gm.leader_type, gm.joined_at,"
              " gm.source FROM group_membership gm JOIN church_group g ON g.id = gm.group_id"
              " JOIN people p ON p.id = gm.person_id WHERE gm.pco_id IS NOT NULL"),
    ),
    assets=(ChurchAsset(
        "group_memberships", entity="group_memberships", reads=("group_memberships",),
        after=("church_groups", "people"),
        description="PCO group memberships (leader → leader, member → member). Memberships made at the "
                    "church stay the church's.",
        preview_columns="id, pco_id, group_id, person_id, leader_type, source",
        quarantine_check=("group_memberships",)),),
    job="sync_groups",
    pushes=(Push(GROUP_MEMBERSHIPS, "push_group_memberships",
                 "Church memberships in PCO groups → PCO memberships (and role changes).",
                 "group_memberships_to_pco",
                 "Adds the church's memberships in PCO groups that PCO lacks (leader → leader, else member) and "
                 "corrects roles that differ. Never writes groups themselves."),),
)

EVENTS_ENTITY = ChurchEntity(
    "events",
    load=incremental(load_events),
    tables=(
        Table("events", "events", _EVENT_FIELDS, pco_state.EVENTS,
              _where("events", "source = 'calendar' AND pco_id IS NOT NULL AND pco_removed_at IS NULL",
                     _EVENT_FIELDS)),
    ),
    assets=(ChurchAsset(
        "events", entity="events", reads=("event_instances", "calendar_events"),
        description="PCO Calendar event instances → events (one row per occurrence).",
        preview_columns="id, pco_id, name, starts_at, source"),),
    job="sync_calendar",
)

_LOCATION_FIELDS = pco_fields("name", "kind", "age_min_months", "age_max_months", "grade_min", "grade_max",
                              "capacity", "parent_pco_id")
CHECKINS_ENTITY = ChurchEntity(
    "checkins",
    load=incremental(load_checkins),
    tables=(
        # Check-in events are rows of `events` (source check-ins), whose pco_id church/events checks.
        Table("checkin_events", "events", pco_fields("name"), pco_state.CHECKIN_EVENTS,
              _where("events", "source = 'check-ins' AND pco_id IS NOT NULL AND pco_removed_at IS NULL",
                     pco_fields("name")),
              unique_pco_id=False),
        Table("locations", "locations", _LOCATION_FIELDS, pco_state.LOCATIONS,
              "SELECT l.pco_id, l.name, l.kind, l.age_min_months, l.age_max_months, l.grade_min, l.grade_max,"
              " l.capacity, parent.pco_id AS parent_pco_id FROM locations l"
              " LEFT JOIN locations parent ON parent.id = l.parent_id"
              " WHERE l.pco_id IS NOT NULL AND l.pco_removed_at IS NULL"),
        Table("event_times", "event_times",
              pco_fields("event_pco_id", "name", "starts_at", "regular_count", "guest_count", "volunteer_count"),
              pco_state.EVENT_TIMES,
              "SELECT t.pco_id, e.pco_id AS event_pco_id, t.name, t.starts_at, t.regular_count, t.guest_count,"
              " t.volunteer_count FROM event_times t LEFT JOIN events e ON e.id = t.event_id"
              " WHERE t.pco_removed_at IS NULL"),
        Table("headcounts", "headcounts", pco_fields("event_time_pco_id", "attendance_type", "total"),
              pco_state.HEADCOUNTS,
              "SELECT h.pco_id, t.pco_id AS event_time_pco_id, h.attendance_type, h.total"
              " FROM headcounts h JOIN event_times t ON t.id = h.event_time_id"),
        Table("checkins", "checkins",
              pco_fields("person_pco_id", "event_pco_id", "location_pco_id", "event_time_pco_id", "first_name",
                         "last_name", "kind", "security_code", "checked_in_at", "checked_out_at"),
              pco_state.CHECKINS,
              "SELECT c.pco_id, p.pco_id AS person_pco_id, e.pco_id AS event_pco_id, l.pco_id AS location_pco_id,"
              " t.pco_id AS event_time_pco_id,"
              " c.first_name, c.last_name, c.kind, c.security_code, c.checked_in_at, c.checked_out_at"
              " FROM checkins c LEFT JOIN people p ON p.id = c.person_id LEFT JOIN events e ON e.id = c.event_id"
              " LEFT JOIN locations l ON l.id = c.location_id LEFT JOIN event_times t ON t.id = c.event_time_id"
              " WHERE c.source = 'pco'"),
    ),
    assets=(  # church/checkins first: the load's window facts show on it
        ChurchAsset("checkins", entity="checkins",
                    reads=("checkins", "checkin_events", "checkin_event_times", "headcounts"), after=("people",),
                    description="A read-only mirror of PCO check-ins (source 'pco'), linked to people, check-in "
                                "events, service times (event_times) and locations, with the headcounts taken at "
                                "each service time; the view service_attendance adds them up. Check-ins made at "
                                "the church stay untouched.",
                    preview_columns="id, pco_id, first_name, last_name, kind, checked_in_at, source",
                    summaries=(Summary("checkin_events", ("created", "updated")),
                               Summary("event_times", ("created", "updated", "removed")),
                               Summary("headcounts", ("created", "updated", "removed"))),
                    quarantine_check=("checkins", "locations", "checkin_events")),
        ChurchAsset("locations", entity="locations", reads=("checkin_locations",),
                    description="PCO check-in locations → locations (rooms with age and grade ranges; folders).",
                    preview_columns="id, pco_id, name, kind, grade_min, grade_max"),
    ),
    job="sync_checkins",
)

JOBS = (
    Job("sync_people", "PCO people (with emails, phones, addresses) and merges → church people."),
    Job("sync_families", "PCO households → church families and members."),
    Job("sync_groups", "PCO group types, groups and memberships → the church's group hierarchy."),
    Job("sync_checkins", "PCO check-ins, check-in events, locations, service times and headcounts → the church's "
                         "read-only mirror."),
    Job("sync_calendar", "PCO Calendar events and instances → church events."),
)

DEFAULT = Registry(
    resources=tuple(RESOURCES.values()),
    entities=(PEOPLE_ENTITY, FAMILIES_ENTITY, GROUPS_ENTITY, MEMBERSHIPS_ENTITY, EVENTS_ENTITY, CHECKINS_ENTITY),
    jobs=JOBS,
    full_sync=Job("full_sync", "Everything inbound, people → families → groups → check-ins and calendar. "
                               "Incremental by default; set full_refresh on the pco/* steps (as the nightly schedule "
                               "does) to re-read all."),
    incremental_sync=Job("sync_incremental", "Only what changed since the last run (people, merges, check-ins, "
                                             "headcounts, calendar event instances), by their cursor; the resources "
                                             "PCO cannot keyset-page wait for the nightly full sync."),
    full_push=Job("full_push", "Everything outbound in order: people → families → group memberships. Set dry_run "
                               "on each step to see the whole plan without sending anything."),
    not_read=MappingProxyType({
        "check-ins/stations": "kiosk settings: nothing in the church database holds them",
        "check-ins/labels": "printer settings: nothing in the church database holds them",
    }),
)
