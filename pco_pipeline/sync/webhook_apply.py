"""Applying webhook deliveries: inbox rows → the landing table → the church tables, by the inbound rules.

`apply_inbox_rows(engine, ids, pco=...)` claims the rows (see `webhook_inbox`), then:

1. reads each row into an event (`webhook_events.parse_event`); a body that can never apply is
   quarantined at once, an event this pipeline does not apply is ignored with the reason;
2. takes the events in PCO's event-time order and, for each, in its own transaction:
   - the **monotonic guard**: an event older than what the database holds is ignored with the
     reason (the payload's `updated_at` is older than the landed record's, or a newer event for
     the same record was already applied), so replays and reordered deliveries do no harm;
   - **re-read through the client** when the payload cannot be trusted to be complete and
     current: thin payloads (no attributes), a person new to us (its payload has no emails, and
     matching needs them), a contact whose person was never landed, an event that would bring
     back a record held as destroyed, a delivery that arrived more than `stale_after` after it
     happened, and what a destroyed person or a merger leaves behind (their households and
     group memberships, and the surviving person's moved contacts). A 404 means PCO no longer
     has the record, which is applied as its removal;
   - **land** the record with `landing.land_records` (never moving the incremental cursor), or mark
     it removed for a destroyed event with `landing.tombstone` (a placeholder when it was never
     landed) — this module only reads `pco_landing`; `sync/landing.py` writes it;
3. runs the same loads as the inbound assets, once per batch, chosen from the entity registry:
   `load_people(pco_ids=…)` for every person touched (match → upsert, removals → inactive,
   merges re-pointed by `apply_person_mergers`, contacts), then, in the registry's order, the
   load of every other church entity whose assets read the `pco/*` asset landing a changed
   resource (households → families, memberships → group memberships; an address → families,
   whose address is chosen from the members' PCO addresses);
4. records every row's outcome: `applied`, `ignored` (why), or `failed` (the error; retried with
   backoff, quarantined after the last try). An event whose own values the database refuses
   (text it cannot hold, say) is quarantined at once: no retry can change them.

**Echoes** of our own pushes (PCO sends them with no origin marker): an event whose values are
those PCO confirmed for one of our recent writes (`push_ledger.was_our_write`) is landed, so the
landing mirrors PCO, but runs no load: the church tables already hold what was pushed, and a
load could only trade a newer church value for the echoed one. An echo older than what is held
is ignored by the guard like any other event, so it never undoes a later change made in PCO.

A crash anywhere leaves the claimed rows to be taken again when their lease ends; landing and
loads are idempotent, so applying a row twice ends the same as applying it once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import sqlalchemy as sa

from pco_pipeline.db.refusals import refuses_values
from pco_pipeline.db.sync_log import redact_secrets
from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.counters import CounterSnapshot
from pco_pipeline.pco.errors import PCONotFound
from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync import landing
from pco_pipeline.sync.catalog import ResourceSpec, spec_for
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.loading import LoadCounts
from pco_pipeline.sync.normalize import DEFAULT_PHONE_REGION, InvalidValue, parse_timestamp
from pco_pipeline.sync.push_ledger import was_our_write
from pco_pipeline.sync.registry import DEFAULT as REGISTRY, PEOPLE_ENTITY, ChurchEntity, Registry
from pco_pipeline.sync.webhook_events import NotApplied, UnreadableDelivery, WebhookEvent, in_event_order, parse_event
from pco_pipeline.sync.webhook_inbox import Claim, Outcome, RetryPolicy, claim, record_outcomes

PEOPLE = spec_for("people/people")
HOUSEHOLDS = spec_for("people/households")
MEMBERSHIPS = spec_for("groups/memberships")
ADDRESSES = spec_for("people/addresses")
CONTACTS = ("people/emails", "people/phone_numbers", ADDRESSES.name)
# What a person is re-read with after a merger: its contacts and the households it is now in.
PERSON_WITH_HOUSEHOLDS = (*PEOPLE.include, "households")
DEFAULT_STALE_AFTER = timedelta(minutes=15)
ECHO_NOTE = "echo of our own push: landed; the church tables already hold it"


@dataclass(frozen=True)
class ApplySettings:
    retry: RetryPolicy = RetryPolicy()
    # A delivery received this long after its event time is re-read: PCO's queue can lag 15 min
    # to an hour during incidents, and the record may have changed again since.
    stale_after: timedelta = DEFAULT_STALE_AFTER
    phone_region: str = DEFAULT_PHONE_REGION


@dataclass
class ApplyReport:
    """What one application of inbox rows did."""

    claimed: int = 0
    applied: int = 0
    ignored: int = 0
    failed: int = 0
    quarantined: int = 0
    rereads: int = 0
    loads: dict[str, LoadCounts] = field(default_factory=dict)
    requests: CounterSnapshot = field(default_factory=CounterSnapshot)
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def church_writes(self) -> int:
        """Rows the loads created, changed or deactivated in the church tables."""
        return sum(c.writes for c in self.loads.values())


@dataclass
class _Effects:
    """What the landed events ask the loads to do: the people to load, and the other resources
    whose landing changed (their loads come from the registry)."""

    people: set[str] = field(default_factory=set)
    resources: set[str] = field(default_factory=set)

    def add(self, other: "_Effects") -> None:
        self.people |= other.people
        self.resources |= other.resources


class _Ignore(Exception):
    """The event changes nothing; the message says why."""


PCOFactory = Callable[[], PCOClient]


class _Reader:
    """Re-reads through the PCO client, created on first use (most events need no request)."""

    def __init__(self, factory: PCOFactory | None) -> None:
        self.factory = factory
        self.client: PCOClient | None = None
        self.before: CounterSnapshot | None = None
        self.count = 0

    def get(self, path: str, include: Sequence[str] = ()) -> Resource | None:
        """The record at `path` as PCO has it now, or None when PCO no longer has it (404)."""
        if self.client is None:
            if self.factory is None:
                raise RuntimeError("this event must be re-read from PCO, but no PCO client was given")
            self.client = self.factory()
            self.before = self.client.counters.snapshot()
        self.count += 1
        try:
            return self.client.get_resource(path, include=list(include) or None)
        except PCONotFound:
            return None

    def requests(self) -> CounterSnapshot:
        if self.client is None or self.before is None:
            return CounterSnapshot()
        return self.client.counters.snapshot() - self.before


def apply_inbox_rows(engine: sa.Engine, ids: Sequence[int], *, pco: PCOFactory | None = None,
                     settings: ApplySettings = ApplySettings(), registry: Registry = REGISTRY) -> ApplyReport:
    """Apply the inbox rows `ids` (those still open and not held by another run); see the module doc.

    `pco` creates the PCO client for re-reads, on first need. Never raises for a bad row: each
    ends applied, ignored, failed or quarantined. Raises only when the inbox itself cannot be
    read or written (the database is down), leaving the rows to be taken again later.
    """
    report = ApplyReport()
    taken: Claim = claim(engine, ids, settings.retry)
    report.claimed = len(taken.rows) + len(taken.gave_up)
    report.quarantined += len(taken.gave_up)
    if not taken.rows:
        return report

    outcomes: dict[int, Outcome] = {}
    events: list[WebhookEvent] = []
    for row in taken.rows:
        try:
            events.append(parse_event(row))
        except UnreadableDelivery as exc:
            outcomes[row.id] = Outcome(row.id, "quarantined", f"unreadable delivery: {exc}")
        except NotApplied as exc:
            outcomes[row.id] = Outcome(row.id, "ignored", str(exc))
        except Exception as exc:  # a row that breaks the reader must not stop the others; it is retried
            outcomes[row.id] = Outcome(row.id, "failed", f"could not be read: {_describe(exc)}")

    reader = _Reader(pco)
    effects = _Effects()
    landed: list[tuple[WebhookEvent, str]] = []
    failed_records: dict[tuple[str, str], int] = {}   # record → the inbox row whose event failed
    for event in in_event_order(events):
        record = (event.spec.name, event.resource.id)
        if record in failed_records:
            # A record's events apply in order: a later one waits for the earlier one to succeed.
            outcomes[event.row.id] = Outcome(event.row.id, "failed", f"waits for inbox row {failed_records[record]}, "
                                                                     f"an earlier event of this record that failed")
            continue
        try:
            with engine.begin() as conn:
                event_effects, note = _apply_event(conn, event, reader, settings)
        except _Ignore as exc:
            outcomes[event.row.id] = Outcome(event.row.id, "ignored", str(exc))
            continue
        except Exception as exc:  # one bad event must not stop the others
            if refuses_values(exc):  # its own values: trying again can never succeed
                outcomes[event.row.id] = Outcome(event.row.id, "quarantined",
                                                 f"the database cannot store its values: {_describe(exc)}")
                continue
            outcomes[event.row.id] = Outcome(event.row.id, "failed", _describe(exc))  # retried
            failed_records[record] = event.row.id
            continue
        effects.add(event_effects)
        landed.append((event, note))

    if landed:
        try:
            report.loads = _run_loads(engine, effects, registry)
        except Exception as exc:
            for event, _ in landed:
                outcomes[event.row.id] = Outcome(event.row.id, "failed", f"the load failed: {_describe(exc)}")
        else:
            for event, note in landed:
                outcomes[event.row.id] = Outcome(event.row.id, "applied", note or None)

    report.rereads = reader.count
    report.requests = reader.requests()
    ordered = [outcomes[row.id] for row in taken.rows]
    recorded = record_outcomes(engine, taken.rows, ordered, settings.retry)
    report.outcomes = ordered
    report.applied = recorded.counts.get("applied", 0)
    report.ignored = recorded.counts.get("ignored", 0)
    report.failed = recorded.counts.get("failed", 0)
    report.quarantined += recorded.counts.get("quarantined", 0)
    return report


def _describe(exc: BaseException) -> str:
    """An error for the inbox and the run log: its kind and message, secrets masked."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact_secrets(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _run_loads(engine: sa.Engine, effects: _Effects, registry: Registry) -> dict[str, LoadCounts]:
    """The inbound loads the landed events call for: the people touched first, scoped to them
    (families and groups point at people), then in the registry's order every other entity's
    load reading a changed resource."""
    report: dict[str, LoadCounts] = {}
    if effects.people:
        report.update(load_people(engine, pco_ids=sorted(effects.people)).counts)
    for entity in _entities_reading(registry, effects.resources):
        report.update(entity.load(engine).counts)
    return report


def _entities_reading(registry: Registry, resources: set[str]) -> list[ChurchEntity]:
    """The church entities, other than people (loaded scoped, above), whose assets read the
    `pco/*` asset landing any of `resources`, in the registry's order."""
    assets = {registry.landing_asset(resource) for resource in resources}
    return [entity for entity in registry.entities
            if entity.name != PEOPLE_ENTITY.name and any(assets & set(asset.reads) for asset in entity.assets)]


# --- one event ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Held:
    """What the landing table holds of a record."""

    pco_updated_at: datetime | None
    removed: bool
    parent_pco_id: str | None


def _held(conn: sa.Connection, resource: str, pco_id: str) -> _Held | None:
    row = conn.execute(sa.text(
        "SELECT pco_updated_at, removed_at IS NOT NULL AS removed, parent_pco_id"
        " FROM pco_landing WHERE resource = :r AND pco_id = :id"), {"r": resource, "id": pco_id}).first()
    return None if row is None else _Held(row.pco_updated_at, row.removed, row.parent_pco_id)


def _updated_at(resource: Resource) -> datetime | None:
    try:
        return parse_timestamp(resource.attributes.get("updated_at"))
    except InvalidValue:
        return None


def _guard(conn: sa.Connection, event: WebhookEvent, held: _Held | None) -> None:
    """Raise _Ignore when the event is older than what the database already holds."""
    payload_time = _updated_at(event.resource)
    if held is not None and held.pco_updated_at is not None and payload_time is not None \
            and payload_time < held.pco_updated_at:
        raise _Ignore(f"older than the version held: its updated_at {payload_time:%Y-%m-%dT%H:%M:%SZ} is before "
                      f"{held.pco_updated_at:%Y-%m-%dT%H:%M:%SZ}")
    if event.event_time is None:
        return
    newest = conn.execute(sa.text(
        "SELECT max(event_time) FROM webhook_inbox"
        " WHERE status = 'applied' AND resource_type = :type AND resource_id = :id"
        "   AND event_name LIKE :subject || '.%'"),
        {"type": event.resource.type, "id": event.resource.id, "subject": event.subject}).scalar()
    if newest is not None and event.event_time < newest:
        raise _Ignore(f"older than an event already applied to this record: it happened at "
                      f"{event.event_time:%Y-%m-%dT%H:%M:%SZ}, the applied one at {newest:%Y-%m-%dT%H:%M:%SZ}")


def _is_late(event: WebhookEvent, settings: ApplySettings) -> bool:
    return event.event_time is not None and event.row.received_at - event.event_time > settings.stale_after


def _apply_event(conn: sa.Connection, event: WebhookEvent, reader: _Reader,
                 settings: ApplySettings) -> tuple[_Effects, str]:
    """Land what `event` says (re-reading where needed); returns the loads it needs and a note."""
    held = _held(conn, event.spec.name, event.resource.id)
    if event.action == "destroyed":
        return _destroy(conn, event.spec, event.resource.id, event.resource, held, reader, settings)
    _guard(conn, event, held)
    if not event.thin and was_our_write(conn, event.resource.type, event.resource.id, event.resource.attributes):
        _land(conn, event.spec, [event.resource], settings, parent_pco_id=_parent_of(event, held))
        return _Effects(), ECHO_NOTE
    if event.subject == "people.v2.events.person_merger":
        return _merge(conn, event, reader, settings)
    if event.spec is PEOPLE:
        return _person(conn, event, held, reader, settings)
    if event.spec.name in CONTACTS:
        return _contact(conn, event, held, reader, settings)
    return _record(conn, event, held, reader, settings)


def _reread_reason(event: WebhookEvent, held: _Held | None, settings: ApplySettings) -> str | None:
    if event.thin:
        return "the payload is thin"
    if held is not None and held.removed:
        return "it would bring back a record held as destroyed"
    if _is_late(event, settings):
        return f"it was delivered more than {int(settings.stale_after.total_seconds() // 60)} min after it happened"
    return None


def _single_path(spec: ResourceSpec, pco_id: str, parent_id: str | None = None) -> str:
    if spec.nested:
        if not parent_id:
            raise ValueError(f"a {spec.pco_type} {pco_id} can only be re-read through its parent, which is unknown")
        return f"{spec.path.format(parent_id=parent_id)}/{pco_id}"
    return f"{spec.path}/{pco_id}"


def _parent_of(event: WebhookEvent, held: _Held | None) -> str | None:
    if event.spec.parent_relationship:
        ids = event.resource.relationship_ids(event.spec.parent_relationship)
        if ids:
            return ids[0]
    return held.parent_pco_id if held is not None else None


def _land(conn: sa.Connection, spec: ResourceSpec, records: Sequence[Resource], settings: ApplySettings,
          parent_pco_id: str | None = None) -> None:
    landing.land_records(conn, spec, records, parent_pco_id=parent_pco_id, advance_cursor=False,
                         phone_region=settings.phone_region)


def _person(conn: sa.Connection, event: WebhookEvent, held: _Held | None, reader: _Reader,
            settings: ApplySettings) -> tuple[_Effects, str]:
    person_id = event.resource.id
    reason = _reread_reason(event, held, settings)
    if reason is None and (event.action == "created" or held is None):
        reason = "a person new to us: the payload has no emails, which matching needs"
    if reason is None:
        _land(conn, PEOPLE, [event.resource], settings)
        return _Effects(people={person_id}), ""
    current = reader.get(_single_path(PEOPLE, person_id), PEOPLE.include)
    if current is None:
        return _gone(conn, event, held, reader, settings, reason)
    _land(conn, PEOPLE, [current], settings)
    # The re-read brings the person's addresses, from which the family address is chosen.
    return _Effects(people={person_id}, resources=_address_effect(ADDRESSES)), f"re-read: {reason}"


def _contact(conn: sa.Connection, event: WebhookEvent, held: _Held | None, reader: _Reader,
             settings: ApplySettings) -> tuple[_Effects, str]:
    """An email, phone number or address: landed under its person (re-read with the person when that
    person was never landed)."""
    person_id = _parent_of(event, held)
    person = _held(conn, PEOPLE.name, person_id) if person_id else None
    if person_id and (person is None or person.removed):
        current = reader.get(_single_path(PEOPLE, person_id), PEOPLE.include)
        if current is None:
            raise _Ignore(f"its person {person_id} is no longer in PCO")
        _land(conn, PEOPLE, [current], settings)
        return (_Effects(people={person_id}, resources=_address_effect(ADDRESSES)),
                f"re-read person {person_id}: it was not landed yet")
    reason = _reread_reason(event, held, settings)
    record = event.resource
    if reason is not None:
        record = reader.get(_single_path(event.spec, record.id))
        if record is None:
            return _gone(conn, event, held, reader, settings, reason)
        person_id = record.relationship_ids("person")[0] if record.relationship_ids("person") else person_id
    _land(conn, event.spec, [record], settings, parent_pco_id=person_id)
    effects = _Effects(people={person_id} if person_id else set(), resources=_address_effect(event.spec))
    return effects, f"re-read: {reason}" if reason else ""


def _record(conn: sa.Connection, event: WebhookEvent, held: _Held | None, reader: _Reader,
            settings: ApplySettings) -> tuple[_Effects, str]:
    """A household or a group membership."""
    reason = _reread_reason(event, held, settings)
    parent = _parent_of(event, held)
    record = event.resource
    if reason is not None:
        record = reader.get(_single_path(event.spec, record.id, parent))
        if record is None:
            return _gone(conn, event, held, reader, settings, reason)
    _land(conn, event.spec, [record], settings, parent_pco_id=parent)
    return _Effects(resources={event.spec.name}), f"re-read: {reason}" if reason else ""


def _address_effect(spec: ResourceSpec) -> set[str]:
    """The resources whose loads a change of `spec` runs besides its person's: an address changes
    the family address, which the households' load chooses from the members' PCO addresses (the
    registry's families asset reads households; addresses are landed with people)."""
    return {HOUSEHOLDS.name} if spec is ADDRESSES else set()


def _gone(conn: sa.Connection, event: WebhookEvent, held: _Held | None, reader: _Reader,
          settings: ApplySettings, reason: str) -> tuple[_Effects, str]:
    """A re-read found the record gone: remove what we hold, or ignore an event about a record we never held."""
    if held is None or held.removed:
        raise _Ignore(f"PCO no longer has it (re-read because {reason}: 404)")
    effects, _ = _destroy(conn, event.spec, event.resource.id, event.resource, held, reader, settings)
    return effects, f"re-read because {reason}: PCO no longer has it, removed"


# --- removals and merges ----------------------------------------------------------------------------

def _destroy(conn: sa.Connection, spec: ResourceSpec, pco_id: str, resource: Resource, held: _Held | None,
             reader: _Reader, settings: ApplySettings) -> tuple[_Effects, str]:
    parent = None
    if spec.parent_relationship:
        ids = resource.relationship_ids(spec.parent_relationship)
        parent = ids[0] if ids else (held.parent_pco_id if held else None)
    landing.tombstone(conn, spec.name, [pco_id], parent_pco_id=parent)
    if spec is PEOPLE:
        # PCO deletes a person's contacts with them, and drops them from households and groups
        # without sending an event for either.
        for child in spec.children.values():
            landing.remove_children(conn, child, [pco_id])
        effects = _Effects(people={pco_id})
        effects.add(_reread_dependents(conn, [pco_id], reader, settings))
        return effects, ""
    if spec.name in CONTACTS:
        return _Effects(people={parent} if parent else set(), resources=_address_effect(spec)), ""
    return _Effects(resources={spec.name}), ""


def _merge(conn: sa.Connection, event: WebhookEvent, reader: _Reader, settings: ApplySettings
           ) -> tuple[_Effects, str]:
    """Land the merger, then what it moved: the survivor (with the contacts and households it now
    has) and the households and group memberships the removed person was in."""
    merger = event.resource
    if event.thin:
        merger = reader.get(_single_path(event.spec, merger.id))
        if merger is None:
            raise _Ignore("PCO no longer has this merger (re-read because the payload is thin: 404)")
    keep = str(merger.attributes.get("person_to_keep_id") or next(iter(merger.relationship_ids("person_to_keep")), ""))
    remove = str(merger.attributes.get("person_to_remove_id")
                 or next(iter(merger.relationship_ids("person_to_remove")), ""))
    _land(conn, event.spec, [merger], settings)
    effects = _Effects(people={p for p in (keep, remove) if p})
    survivor_households: set[str] = set()
    if keep:
        survivor = reader.get(_single_path(PEOPLE, keep), PERSON_WITH_HOUSEHOLDS)
        if survivor is not None:
            _land(conn, PEOPLE, [survivor], settings)
            households = survivor.related_list("households")
            if households:
                _land(conn, HOUSEHOLDS, households, settings)
                survivor_households = {h.id for h in households}
                effects.resources.add(HOUSEHOLDS.name)
    if remove:
        effects.add(_reread_dependents(conn, [remove], reader, settings, skip_households=survivor_households))
    return effects, f"merged PCO person {remove} into {keep}; re-read the survivor and what the merge moved"


def _reread_dependents(conn: sa.Connection, people: Sequence[str], reader: _Reader, settings: ApplySettings, *,
                       skip_households: frozenset[str] | set[str] = frozenset()) -> _Effects:
    """Re-read the landed households and group memberships that name `people` (PCO changes them
    silently when a person is deleted or merged away); a 404 removes them."""
    effects = _Effects()
    households = conn.execute(sa.text(
        "SELECT pco_id FROM pco_landing WHERE resource = 'people/households' AND removed_at IS NULL"
        " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE jsonb_typeof(relationships->'people')"
        "             WHEN 'array' THEN relationships->'people' ELSE '[]'::jsonb END) AS m(id) WHERE m.id = ANY(:p))"
        " ORDER BY length(pco_id), pco_id"), {"p": list(people)}).scalars().all()
    for household_id in households:
        if household_id in skip_households:
            continue
        current = reader.get(_single_path(HOUSEHOLDS, household_id))
        if current is None:
            landing.tombstone(conn, HOUSEHOLDS.name, [household_id])
        else:
            _land(conn, HOUSEHOLDS, [current], settings)
        effects.resources.add(HOUSEHOLDS.name)
    memberships = conn.execute(sa.text(
        "SELECT pco_id, COALESCE(parent_pco_id, relationships->>'group') AS group_id FROM pco_landing"
        " WHERE resource = 'groups/memberships' AND removed_at IS NULL AND relationships->>'person' = ANY(:p)"
        " ORDER BY length(pco_id), pco_id"), {"p": list(people)}).all()
    for membership_id, group_id in memberships:
        current = reader.get(_single_path(MEMBERSHIPS, membership_id, group_id)) if group_id else None
        if current is None:
            landing.tombstone(conn, MEMBERSHIPS.name, [membership_id], parent_pco_id=group_id)
        else:
            _land(conn, MEMBERSHIPS, [current], settings, parent_pco_id=group_id)
        effects.resources.add(MEMBERSHIPS.name)
    return effects
