"""The push engine: what every push does, once. Each push (`people_push`, `families_push`,
`memberships_push`) declares a `PushKind` — its name, what must be loaded first, how it plans and
how it pushes one unit of its plan — and the engine runs it (rules in `push`'s docstring):

    report = run_push(PEOPLE, engine, client, run_id=..., dry_run=False, workers=4)

`run_push` is the skeleton: the session, the push kind's exclusive lock, fresh planner
statistics (`db.statistics`: a push often follows a load that rewrote whole tables), the
inbound load it needs (`LoadedFirst`), the plan, the dry run (plan only, nothing sent), a
bounded worker loop (the next batch is planned while the workers push this one) and the abort
mapping (an error about the connection stops every worker and ends the push as `PushAborted`).

A push writes to PCO through `Operation`s, one local record each, which the engine executes:
- `send(session, client, op, lost=...)`: one write; a lost answer or PCO's refusal of the record
  is quarantined and the push goes on, an error about the connection stops it;
- `create_recorded(session, client, op)`: a create PCO cannot be asked about by a key of ours
  before sending (`RecordedCreate`): the push ledger's intent is committed first; after a lost
  answer (or an intent a previous run left open) the record is looked up (by remote_id, or where
  the push knows to look) and adopted instead of created again; then its PCO id is stored.
- `update_recorded(session, client, update)`: a PATCH of the fields that changed (`RecordedUpdate`),
  recorded in the ledger before it is sent and confirmed after; an intent a previous run left open
  is resumed by reading the PCO record: the fields PCO already shows are not sent again. A 422
  refuses only the fields PCO names: each is quarantined with PCO's words and the others are sent
  again without them, in one more PATCH (PCO validates the whole body and changes nothing when any
  field is refused, so the first PATCH wrote nothing). A 422 that names no field we sent is split
  into one PATCH per field, which finds the refused one(s).
- `delete_recorded(session, client, delete)`: a DELETE (`RecordedDelete`), recorded the same way;
  PCO's 404 means the record is already gone, which is what was wanted.
Planning decides what to write (today a comparison with PCO's landed values, later the three-way
merge); these functions only execute what was planned.
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

from pco_pipeline.db.statistics import refresh_stale_statistics
from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.client import resource_body
from pco_pipeline.pco.errors import PCOError, PCONotFound, PCOValidationError, PCOWriteOutcomeUnknown
from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync import push_ledger as ledger
from pco_pipeline.sync import quarantine
from pco_pipeline.sync.normalize import InvalidValue, parse_timestamp
from pco_pipeline.sync.push import (CHANGED_BY_PCO, MISSING_IN_PCO, OUTCOME_UNKNOWN, REFUSED_BY_PCO, PushAborted,
                                    PushReport, PushSession, changed_by_pco, field_key, is_aborting, quarantine_entity)

# A PCO record found after a lost answer must have been created after the intent was written,
# give or take this much clock difference between PCO and the database.
CLOCK_SKEW = timedelta(hours=1)

# How the engine sends each action.
HTTP_METHODS = {"create": "post", "update": "patch", "delete": "delete"}


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
    # The table name is one of the constants above, never input. A record the church deleted
    # (`church_deletions`) is not waiting to be loaded: the push sends its deletion.
    unloaded = conn.execute(sa.text(
        "SELECT count(*) FROM pco_landing l WHERE l.resource = :resource AND l.removed_at IS NULL"
        f" AND NOT EXISTS (SELECT 1 FROM {needed.table} t WHERE t.pco_id = l.pco_id)"
        " AND NOT EXISTS (SELECT 1 FROM church_deletions d WHERE d.local_table = :entity AND d.pco_id = l.pco_id)"
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

    action: str                  # create | update | delete
    resource: str                # PCO type, e.g. Person
    table: str                   # the local table (its outbound quarantine entity is push_<table>)
    key: str                     # the local record's key in the quarantine and the ledger
    local_id: int | None
    label: str                   # the record as people reading the quarantine know it
    path: str                    # where the write is sent
    body: Mapping[str, Any]      # the JSON:API body
    sent: Mapping[str, Any]      # what the ledger and the quarantine keep of it
    pco_id: str | None = None    # the PCO record an update or delete is about


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


# --- updates and deletes ---------------------------------------------------------------------------

@dataclass
class RecordedUpdate:
    """A PATCH of the fields of one PCO record the church changed (`changes`: attribute → value)."""

    resource: str                 # PCO type, e.g. Person
    table: str                    # the local table (quarantine entity push_<table>)
    key: str                      # the local record's key
    local_id: int | None
    label: str
    pco_id: str
    path: str                     # the record's URL: PATCHed, and read to resume a lost answer
    changes: dict[str, Any]
    store: Callable[[sa.Connection, Resource], None] | None = None   # e.g. keep PCO's updated_at locally
    intent: ledger.Intent | None = None                              # left open by a previous run
    parent_pco_id: str | None = None                                 # the person of a contact (echoes)

    def operation(self, fields: Iterable[str]) -> Operation:
        sent = {name: self.changes[name] for name in fields}
        return Operation("update", self.resource, self.table, self.key, self.local_id, self.label, self.path,
                         resource_body(self.resource, sent, id=self.pco_id), sent, self.pco_id)


@dataclass
class RecordedDelete:
    """A DELETE of one PCO record the church deleted; `store` records the outcome locally
    ('deleted' or 'already_gone') in the transaction that confirms the ledger intent."""

    resource: str
    table: str
    key: str
    local_id: int | None
    label: str
    pco_id: str
    path: str
    store: Callable[[sa.Connection, str], None] | None = None
    parent_pco_id: str | None = None     # the person of a contact (echoes)


def _unsent(changes: Mapping[str, Any], record: Resource) -> dict[str, Any]:
    """The changes PCO's record does not show yet."""
    shown = changed_by_pco(changes, record.attributes)
    return {name: value for name, value in changes.items() if name in shown or name not in record.attributes}


def update_recorded(session: PushSession, client: PCOClient, update: RecordedUpdate) -> Resource | None:
    """Send the update (see the module docstring): PCO's record as it now is, or None when
    nothing of it went through (quarantined). Connection errors are raised with the intent left
    open, so the next push resumes it."""
    changes = dict(update.changes)
    if update.intent is not None:
        try:
            current = client.get_resource(update.path)
        except PCONotFound:
            _update_target_gone(session, update, update.intent.id)
            return None
        changes = _unsent(changes, current)
        if not changes:
            _confirm_update(session, update, update.intent.id, current, {},
                            detail="resumed: PCO already showed every value sent")
            return current
    result: Resource | None = None
    pending = [list(changes)]            # field groups still to send: one PATCH, or one per field after a 422
    while pending:
        fields = pending.pop(0)
        op = update.operation(fields)
        with session.engine.begin() as conn:
            intent = ledger.record_intent(conn, run_id=session.run_id, resource_type=op.resource,
                                          local_table=op.table, local_key=op.key, sent=op.sent, action="update",
                                          pco_id=update.pco_id, parent_pco_id=update.parent_pco_id)
        try:
            result = client.patch(op.path, op.body)
        except PCOValidationError as exc:
            named = {attribute for attribute, _ in exc.problems if attribute is not None and attribute in op.sent}
            if not named and len(fields) > 1:
                pending = [[name] for name in fields] + pending
                continue
            refused = named or set(fields)
            with session.engine.begin() as conn:
                ledger.close_intent(conn, intent.id, "refused", exc.detail or exc.message)
            _refuse_fields(session, update, refused, exc)
            rest = [name for name in fields if name not in refused]
            if rest:
                pending.insert(0, rest)
            continue
        except PCONotFound:
            _update_target_gone(session, update, intent.id)
            return None
        except PCOError as exc:
            if is_aborting(exc):
                raise
            with session.engine.begin() as conn:
                ledger.close_intent(conn, intent.id, "refused", exc.detail or exc.message)
            session.refused(op.resource, op.table, op.key, op.local_id, exc, op.sent)
            return None
        _confirm_update(session, update, intent.id, result, op.sent)
    return result


def _confirm_update(session: PushSession, update: RecordedUpdate, ledger_id: int, resource: Resource,
                    sent: Mapping[str, Any], detail: str | None = None) -> None:
    """Close the intent with PCO's answer and store it locally, in one transaction; count it;
    quarantine a value PCO stored differently (it answers 200 with a field it could not use emptied)."""
    changed = changed_by_pco(sent, resource.attributes)
    what = "; ".join(f"{k}: sent {a!r}, PCO kept {b!r}" for k, (a, b) in changed.items())
    with session.engine.begin() as conn:
        # Losing this commit to a server crash leaves what a crash just before it leaves: the
        # intent open, resumed by the next push that plans the record (it reads PCO's record
        # first) and the base moved by the next load; so it need not wait for the disk.
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        ledger.confirm(conn, ledger_id, resource, detail=what or detail)
        if update.store is not None:
            update.store(conn, resource)
        quarantine.resolve_records(conn, quarantine_entity(update.table), [
            update.key, *(field_key(update.key, name) for name in sent if name not in changed)])
    session.counts.add(update.resource, "updated")
    if changed:
        session.quarantine(update.table, update.key, update.local_id, CHANGED_BY_PCO,
                           f"PCO stored {update.label} with different values: {what}", pco_id=update.pco_id,
                           record=dict(sent))


def _refuse_fields(session: PushSession, update: RecordedUpdate, fields: Iterable[str],
                   error: PCOValidationError) -> None:
    """Quarantine each refused field on its own (the record's other fields still go), in PCO's words."""
    said = dict((attribute, detail) for attribute, detail in error.problems if attribute)
    for name in sorted(fields):
        words = said.get(name) or error.detail or error.message
        session.failed(update.resource, update.table, field_key(update.key, name), update.local_id, REFUSED_BY_PCO,
                       f"PCO refused {name} of {update.label} ({error.status}): {words}. Fix it in the church "
                       "database; the next push sends it again once it has changed.",
                       record={name: update.changes[name]},
                       details={"status": error.status, "request_id": error.request_id, "pco_id": update.pco_id,
                                "field": name, "problems": [{"attribute": a, "detail": d} for a, d in error.problems]})


def _update_target_gone(session: PushSession, update: RecordedUpdate, ledger_id: int) -> None:
    with session.engine.begin() as conn:
        ledger.close_intent(conn, ledger_id, "refused", "the PCO record no longer exists")
    session.failed(update.resource, update.table, update.key, update.local_id, MISSING_IN_PCO,
                   f"{update.label}: PCO {update.resource} {update.pco_id} no longer exists (deleted or merged in "
                   "PCO); the inbound sync will update the church record", record=dict(update.changes))


def delete_recorded(session: PushSession, client: PCOClient, delete: RecordedDelete) -> str | None:
    """Send the DELETE (see the module docstring): 'deleted', 'already_gone', or None when PCO
    refused it (quarantined). Connection errors are raised with the intent left open."""
    with session.engine.begin() as conn:
        intent = ledger.record_intent(conn, run_id=session.run_id, resource_type=delete.resource,
                                      local_table=delete.table, local_key=delete.key, sent={}, action="delete",
                                      pco_id=delete.pco_id, parent_pco_id=delete.parent_pco_id)
    outcome = "deleted"
    try:
        client.delete(delete.path)
    except PCONotFound:
        outcome = "already_gone"
    except PCOError as exc:
        if is_aborting(exc):
            raise
        with session.engine.begin() as conn:
            ledger.close_intent(conn, intent.id, "refused", exc.detail or exc.message)
        session.refused(delete.resource, delete.table, delete.key, delete.local_id, exc, {"pco_id": delete.pco_id})
        return None
    with session.engine.begin() as conn:
        ledger.confirm_deleted(conn, intent.id, detail="already gone in PCO" if outcome == "already_gone" else None)
        if delete.store is not None:
            delete.store(conn, outcome)
        session.resolve(conn, delete.table, delete.key)
    session.counts.add(delete.resource, "deleted")
    return outcome


def execute(session: PushSession, client: PCOClient, unit: RecordedUpdate | RecordedDelete) -> None:
    """Send one planned update or delete."""
    if isinstance(unit, RecordedDelete):
        delete_recorded(session, client, unit)
    else:
        update_recorded(session, client, unit)


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
             dry_run: bool = False, workers: int = 1, progress: Callable[[PushReport], None] | None = None,
             confirm_large_change: bool = False) -> PushReport:
    """Run one push (see the module docstring). A dry run needs no client and sends nothing.
    `confirm_large_change` lets a run the safety brake would stop (`SafetyBrakeEngaged`) through."""
    session = PushSession(kind.name, engine, client, run_id=run_id, dry_run=dry_run,
                          confirm_large_change=confirm_large_change)
    with exclusive(engine, kind.name):
        with engine.begin() as conn:
            # A push usually follows a load that rewrote whole tables moments ago (db/statistics).
            refresh_stale_statistics(conn)
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
