"""The push engine: what every push does, once. Each push (`people_push`, `families_push`,
`memberships_push`) declares a `PushKind` — its name, what must be loaded first, how it plans and
how it pushes one unit of its plan — and the engine runs it (rules in `push`'s docstring):

    report = run_push(PEOPLE, engine, client, run_id=..., dry_run=False, workers=4)

`run_push` is the skeleton: the session, the push kind's exclusive lock, the inbound load it
needs (`LoadedFirst`), the plan, the dry run (plan only, nothing sent), a bounded worker loop (the
next batch is planned while the workers push this one) and the abort mapping (an error about the
connection stops every worker and ends the push as `PushAborted`).

A push writes to PCO through `Operation`s, one local record each, which the engine executes:
- `send(session, client, op, lost=...)`: one write; a lost answer or PCO's refusal of the record
  is quarantined and the push goes on, an error about the connection stops it;
- `create_recorded(session, client, op)`: a create PCO cannot be asked about by a key of ours
  before sending (`RecordedCreate`): the push ledger's intent is committed first; after a lost
  answer (or an intent a previous run left open) the record is looked up (by remote_id, or where
  the push knows to look) and adopted instead of created again; then its PCO id is stored.
Operations are creates today (and a membership's role correction, an update); the two-way issue
adds updates and deletes as actions of the same `Operation`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.errors import PCOError, PCOWriteOutcomeUnknown
from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync import push_ledger as ledger
from pco_pipeline.sync.normalize import InvalidValue, parse_timestamp
from pco_pipeline.sync.push import (CHANGED_BY_PCO, OUTCOME_UNKNOWN, PushAborted, PushReport, PushSession,
                                    changed_by_pco, is_aborting)

# A PCO record found after a lost answer must have been created after the intent was written,
# give or take this much clock difference between PCO and the database.
CLOCK_SKEW = timedelta(hours=1)

# How the engine sends each action (update and delete: the two-way issue adds theirs).
HTTP_METHODS = {"create": "post", "update": "patch"}


# --- what must be loaded first ------------------------------------------------------------------

@dataclass(frozen=True)
class LoadedFirst:
    """A PCO resource the inbound sync must have read completely and loaded before a push creates
    records of it: otherwise a record PCO already has (not linked yet) would be created again, and
    PCO cannot merge through the API (pco_api.md §6.8)."""

    resource: str        # PCO resource as landed, e.g. people/people
    plural: str          # what people call its records: "people", "households"
    table: str           # the church table its records load into (also the inbound quarantine entity)
    command: str         # the inbound sync that loads it: `pco-pipeline sync <command>`


PEOPLE_LOADED = LoadedFirst("people/people", "people", "people", "people")
HOUSEHOLDS_LOADED = LoadedFirst("people/households", "households", "families", "families")


def require_loaded(conn: sa.Connection, needed: LoadedFirst) -> None:
    """PushAborted unless PCO's `needed` records were read completely once and every landed one is
    loaded (or held in the inbound quarantine)."""
    sync = f"`pco-pipeline sync {needed.command}`"
    listed = conn.execute(sa.text(
        "SELECT 1 FROM pco_listing WHERE resource = :resource AND finished_at IS NOT NULL LIMIT 1"),
        {"resource": needed.resource}).scalar()
    if listed is None:
        raise PushAborted(f"PCO's {needed.plural} have never been read completely: run the inbound {needed.command} "
                          f"sync ({sync}) first, so {needed.plural} PCO already has are linked, not duplicated")
    # The table name is one of the constants above, never input.
    unloaded = conn.execute(sa.text(
        "SELECT count(*) FROM pco_landing l WHERE l.resource = :resource AND l.removed_at IS NULL"
        f" AND NOT EXISTS (SELECT 1 FROM {needed.table} t WHERE t.pco_id = l.pco_id)"
        " AND NOT EXISTS (SELECT 1 FROM sync_quarantine q WHERE q.entity = :entity AND q.record_key = l.pco_id"
        "                 AND q.resolved_at IS NULL)"), {"resource": needed.resource, "entity": needed.table}
    ).scalar_one()
    if unloaded:
        raise PushAborted(f"{unloaded} PCO {needed.plural} were read but not loaded into the church database yet: "
                          f"run the inbound {needed.command} sync ({sync}) first, so they are linked, not duplicated")


@contextmanager
def exclusive(engine: sa.Engine, push: str) -> Iterator[None]:
    """Hold the session advisory lock of one push kind for the duration; PushAborted when taken."""
    with engine.connect() as conn:
        key = f"push:{push}"
        if not conn.execute(sa.text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": key}).scalar():
            raise PushAborted(f"another {push} push is running: wait for it to finish")
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": key})
            conn.commit()


# --- operations -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    """One write to PCO about one local record."""

    action: str                  # create | update (delete: the two-way issue)
    resource: str                # PCO type, e.g. Person
    table: str                   # the local table (its outbound quarantine entity is push_<table>)
    key: str                     # the local record's key in the quarantine and the ledger
    local_id: int | None
    label: str                   # the record as people reading the quarantine know it
    path: str                    # where the write is sent
    body: Mapping[str, Any]      # the JSON:API body
    sent: Mapping[str, Any]      # what the ledger and the quarantine keep of it


def send(session: PushSession, client: PCOClient, op: Operation, *, lost: str) -> Resource | None:
    """Execute one write; PCO's answer, or None when it did not go through (quarantined: refused,
    or `lost` — the answer never came). An error about the connection is raised (it stops the push)."""
    try:
        return getattr(client, HTTP_METHODS[op.action])(op.path, op.body)
    except PCOWriteOutcomeUnknown:
        session.failed(op.resource, op.table, op.key, op.local_id, OUTCOME_UNKNOWN, f"{op.label}: {lost}",
                       record=dict(op.sent))
    except PCOError as exc:
        if is_aborting(exc):
            raise
        session.refused(op.resource, op.table, op.key, op.local_id, exc, op.sent)
    return None


class RecordedCreate(ABC):
    """A create whose answer, if lost, only a look-up can recover: the push's own rules for it."""

    pco_noun: str                 # "PCO person", "PCO household"
    linked_meanwhile_remedy: str  # what staff do when the local record got linked elsewhere meanwhile
    intent: ledger.Intent | None  # the intent a previous run left open for this record (answer lost)

    @abstractmethod
    def operation(self) -> Operation:
        """The create (its `sent` is what the ledger intent keeps)."""

    @abstractmethod
    def candidates(self, client: PCOClient) -> Iterable[Resource]:
        """Where a lost create would be in PCO (e.g. `where[remote_id]`)."""

    @abstractmethod
    def is_ours(self, record: Resource, sent: Mapping[str, Any]) -> bool:
        """Whether a candidate carries what was sent (`sent`: the intent's, or this run's)."""

    @abstractmethod
    def store(self, conn: sa.Connection, resource: Resource) -> bool:
        """Store PCO's id on the local record; False when it was linked to another one meanwhile."""


def _created_at(record: Resource) -> datetime | None:
    try:
        return parse_timestamp(record.get("created_at"), "created_at")
    except InvalidValue:
        return None


def _look_up(session: PushSession, client: PCOClient, create: RecordedCreate, since: datetime) -> Resource | None:
    """The record a lost create made: a candidate no local record is linked to, carrying what was sent,
    created since the intent (the earliest, if several)."""
    op = create.operation()
    records = list(create.candidates(client))
    if not records:
        return None
    with session.engine.connect() as conn:
        # The table name comes from the push's own code, never input.
        linked = set(conn.execute(sa.text(f"SELECT pco_id FROM {op.table} WHERE pco_id = ANY(:ids)"),
                                  {"ids": [r.id for r in records]}).scalars())
    sent = create.intent.sent if create.intent is not None else op.sent
    found = []
    for record in records:
        created = _created_at(record)
        if record.id in linked or created is None or created < since - CLOCK_SKEW or not create.is_ours(record, sent):
            continue
        found.append((created, len(record.id), record.id, record))
    return min(found, key=lambda f: f[:3])[3] if found else None


def _store_created(session: PushSession, create: RecordedCreate, ledger_id: int, resource: Resource,
                   state: str) -> bool:
    """Store the id and close the intent in one transaction; count it; quarantine what PCO changed."""
    op = create.operation()
    changed = changed_by_pco(op.sent, resource.attributes) if state == "confirmed" else {}
    detail = "; ".join(f"{k}: sent {a!r}, PCO kept {b!r}" for k, (a, b) in changed.items()) or None
    with session.engine.begin() as conn:
        stored = create.store(conn, resource)
        ledger.confirm(conn, ledger_id, resource, state=state, detail=detail if stored else
                       f"the local record was linked to another {create.pco_noun} meanwhile")
        if stored:
            session.resolve(conn, op.table, op.key)
    if not stored:
        session.failed(op.resource, op.table, op.key, op.local_id, "linked_meanwhile",
                       f"{op.label} was linked to another {create.pco_noun} while {create.pco_noun} {resource.id} "
                       f"was being created for it: {create.linked_meanwhile_remedy}", record=dict(op.sent))
        return False
    session.counts.add(op.resource, "adopted" if state == "adopted" else "created")
    if changed:
        session.quarantine(op.table, op.key, op.local_id, CHANGED_BY_PCO,
                           f"PCO stored {op.label} with different values: {detail}", pco_id=resource.id,
                           record=dict(op.sent))
    return True


def create_recorded(session: PushSession, client: PCOClient,
                    create: RecordedCreate) -> tuple[Resource, str] | tuple[None, None]:
    """Create through the ledger (see the module docstring): (the PCO record, 'confirmed' or
    'adopted'), or (None, None) when it did not go through (quarantined)."""
    op = create.operation()
    if create.intent is not None:
        found = _look_up(session, client, create, create.intent.sent_at)
        if found is not None:
            return (found, "adopted") if _store_created(session, create, create.intent.id, found, "adopted") \
                else (None, None)
    with session.engine.begin() as conn:
        intent = ledger.record_intent(conn, run_id=session.run_id, resource_type=op.resource, local_table=op.table,
                                      local_key=op.key, sent=op.sent)
    try:
        created = client.post(op.path, op.body)
    except PCOWriteOutcomeUnknown:
        found = _look_up(session, client, create, intent.sent_at)
        if found is not None:
            return (found, "adopted") if _store_created(session, create, intent.id, found, "adopted") \
                else (None, None)
        session.failed(op.resource, op.table, op.key, op.local_id, OUTCOME_UNKNOWN,
                       f"{op.label}: PCO's answer to the create was lost and PCO does not show the "
                       f"{op.resource.lower()} yet; the next push looks again before creating", record=dict(op.sent))
        return None, None
    except PCOError as exc:
        # An error that stops the run means PCO made nothing; any other answer is a refusal.
        aborting = is_aborting(exc)
        with session.engine.begin() as conn:
            ledger.close_intent(conn, intent.id, "abandoned" if aborting else "refused", exc.detail or exc.message)
        if aborting:
            raise
        session.refused(op.resource, op.table, op.key, op.local_id, exc, op.sent)
        return None, None
    return (created, "confirmed") if _store_created(session, create, intent.id, created, "confirmed") \
        else (None, None)


# --- one run --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PushKind:
    """One push: its name (lock, report, run log), what must be loaded first, its plan (batches of
    units, validated, skips recorded on the session) and how one unit is pushed."""

    name: str
    plan: Callable[[PushSession], Iterable[Sequence[Any]]]
    pusher: Callable[[PushSession, PCOClient], Callable[[Any], None]]
    needs: LoadedFirst | None = None


class _WorkerLoop:
    """Units pushed by a bounded pool; after an error that ends the run, queued units return untouched."""

    def __init__(self, push_unit: Callable[[Any], None]) -> None:
        self.push_unit = push_unit
        self.stop = threading.Event()
        self.error: PCOError | None = None

    def push(self, unit: Any) -> None:
        if self.stop.is_set():
            return
        try:
            self.push_unit(unit)
        except PCOError as exc:
            self.stop.set()
            if not is_aborting(exc):
                raise
            self.error = self.error or exc
        except BaseException:
            self.stop.set()
            raise


def run_push(kind: PushKind, engine: sa.Engine, client: PCOClient | None, *, run_id: str | None = None,
             dry_run: bool = False, workers: int = 1,
             progress: Callable[[PushReport], None] | None = None) -> PushReport:
    """Run one push (see the module docstring). A dry run needs no client and sends nothing."""
    session = PushSession(kind.name, engine, client, run_id=run_id, dry_run=dry_run)
    with exclusive(engine, kind.name):
        if kind.needs is not None:
            with engine.connect() as conn:
                require_loaded(conn, kind.needs)
        if dry_run:
            for _ in kind.plan(session):
                pass
            return session.report
        if client is None:
            raise ValueError("a push that sends needs a PCO client")
        loop = _WorkerLoop(kind.pusher(session, client))
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"push_{kind.name}") as pool:
            # The next batch is planned while the workers push this one (two batches at most in memory).
            in_flight: list[Future] = []
            try:
                for batch in kind.plan(session):
                    queued = [pool.submit(loop.push, unit) for unit in batch]
                    for future in in_flight:
                        future.result()
                    in_flight = queued
                    if progress is not None:
                        progress(session.report)
                    if loop.stop.is_set():
                        break
                for future in in_flight:
                    future.result()
            except BaseException:
                loop.stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        if loop.error is not None:
            raise PushAborted(f"push_{kind.name} stopped: {loop.error}") from loop.error
        if progress is not None:
            progress(session.report)
    return session.report
