"""The church outbox (`church_outbox`, sql/0017): edits other applications and staff made to the
synced church tables, waiting to be pushed to PCO. No Dagster here.

A row is a signal, not a payload: it says which record changed, and the push sends that record as
it is when the push runs (its three-way comparison with the base decides which fields go). Several
edits of one record are sent once; an edit undone before the push sends nothing.

A row's life (the triggers write it `pending`):

    pending ──claim──▶ pending, attempts + 1, next_attempt_at = now + lease   (a run holds it)
            ──▶ sent          the push of its table ran to its end and holds nothing of the record
            ──▶ quarantined   the push holds the record in the outbound quarantine (PCO refused it,
                              invalid, …: the quarantine's reason is copied), or it failed
                              `max_tries` times
            ──▶ needs_action  the push ran, but PCO's API cannot take the change (a group's
                              description): the needs-action row's instruction is copied
            ──▶ failed, next_attempt_at = now + backoff(attempts)   the push stopped (PCO
                              unreachable, another push of the kind running, the safety brake)

Claiming is one UPDATE taking only rows nobody holds, so two runs handed the same ids never both
take them, and a run that dies holding rows (a crash, a killed process) only delays them until its
lease ends: they are due again then. Pushes are idempotent (`push_ledger`), so sending a record
again after such a crash repeats nothing PCO already has.

Reading before writing: a run first reads PCO's current record of every linked person, household,
group and group membership its rows name (`refresh_pco_side`), lands it and loads it, as a
webhook delivery would, so the push plans against PCO as it is now, and stamps the rows
`pco_read_at`. Without it, a PCO edit made since the last load (its webhook not applied yet) would
be overwritten by the church's value with no conflict recorded. The people push's hold
(`people_push.hold_unread_pco_changes`) is the same guarantee for a push nobody read for: it
trusts the records a stamped row of its run names and lists PCO's changes only for the others, so
a batch whose records were all read costs no listing.

Which push sends a table's records: its entity's (the registry), except a linked group's name,
which the group memberships push sends (`memberships_push.plan_renames`; `SENT_WITH`).

Staff see and steer the backlog with `backlog`, `rows_in` and `retry` (`pco-pipeline outbox`,
the console's dashboard). Sent rows are deleted once the retention period has passed
(`sync/retention.py`); no other row ever is.

Finding work (the sensor) is two bounded queries, as for `webhook_inbox`: rows after the sensor's
cursor never handed out, and rows at or before it due again. The sweep (a schedule) asks for every
open row due, whatever the cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.errors import PCONotFound
from pco_pipeline.sync import landing, quarantine
from pco_pipeline.sync.catalog import ResourceSpec, spec_for
from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_groups import load_group_memberships, load_groups
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.loading import LoadReport
from pco_pipeline.sync.normalize import DEFAULT_PHONE_REGION
from pco_pipeline.sync.policies import SyncPolicies
from pco_pipeline.sync.push import PushAborted
from pco_pipeline.sync.push_engine import PEOPLE_LOADED, require_loaded
from pco_pipeline.sync.registry import DEFAULT, Push, Registry
from pco_pipeline.sync.statements import statement
from pco_pipeline.sync.webhook_inbox import DueRetries, RetryPolicy

# The channel the capture triggers NOTIFY (payload: the table's name) for any application that
# wants to react to church edits at once; the pipeline itself finds work by its sensor's polling.
NOTIFY_CHANNEL = "church_outbox"
QUARANTINE_ENTITY = "church_outbox"
# A push may send a whole church's backlog (a first run after an import): its lease is long.
RETRY = RetryPolicy(lease=timedelta(minutes=30))
MAX_REASON_LENGTH = 1000
# Larger than any outbox id: the sweep's "at or before" bound.
EVERY_ID = 2 ** 62
# Statuses a row can be listed in (`rows_in`), and those staff may send again (`retry`).
STATUSES = ("pending", "failed", "quarantined", "needs_action", "sent")
RETRIABLE = ("failed", "quarantined")
# Entities whose records another entity's push sends: a linked group's name goes with the group
# memberships push (`memberships_push.plan_renames`), the only push writing PCO groups.
SENT_WITH = {"church_groups": "group_memberships"}


@dataclass(frozen=True)
class OutboxRow:
    """One claimed outbox row."""

    id: int
    table_name: str
    row_key: str
    operation: str
    attempts: int
    status_reason: str | None = None
    run_id: str | None = None        # the run that claimed it


@dataclass
class Outcomes:
    """How the rows of one run ended: ids per status (sent, failed, quarantined)."""

    ids: dict[str, list[int]] = field(default_factory=dict)

    def add(self, status: str, ids: Iterable[int]) -> None:
        self.ids.setdefault(status, []).extend(ids)

    def counts(self) -> dict[str, int]:
        return {status: len(self.ids.get(status, [])) for status in ("sent", "failed", "quarantined", "needs_action")}


def _short(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON_LENGTH else reason[:MAX_REASON_LENGTH - 1] + "…"


# --- finding work ---------------------------------------------------------------------------------

def new_ids(conn: sa.Connection, *, after_id: int, limit: int) -> list[int]:
    """Up to `limit` ids after `after_id` waiting and held by no run, oldest first."""
    return list(conn.execute(statement("outbox/new_ids"), {"after_id": after_id, "row_limit": limit}).scalars())


def due_ids(conn: sa.Connection, *, up_to_id: int = EVERY_ID, limit: int, unclaimed_for: timedelta | None = None,
            policy: RetryPolicy = RETRY) -> DueRetries:
    """Open rows at or before `up_to_id` to hand out again: backoff or lease over, or waiting
    unclaimed for `unclaimed_for` (default `policy.orphan_after`); with the latest due moment."""
    rows = conn.execute(statement("outbox/due_ids"), {
        "up_to_id": up_to_id, "row_limit": limit,
        "unclaimed_for": unclaimed_for if unclaimed_for is not None else policy.orphan_after}).all()
    return DueRetries([r.id for r in rows], max((r.due for r in rows), default=None))


def not_ready(conn: sa.Connection) -> str | None:
    """Why no push can run yet, or None: PCO's people were never read completely (a fresh install
    before its first sync), or some were read but not loaded. Every push needs them loaded first
    (people are linked, not duplicated; families and memberships point at people), so launching a
    run before would only fail."""
    try:
        require_loaded(conn, PEOPLE_LOADED)
    except PushAborted as exc:
        return str(exc)
    return None


# --- claiming, pushing, recording -----------------------------------------------------------------

def claim(engine: sa.Engine, ids: Sequence[int], *, run_id: str | None, policy: RetryPolicy = RETRY
          ) -> tuple[list[OutboxRow], list[int]]:
    """Take the rows of `ids` that are open and held by no run (see the module docstring): the
    rows now held, and the ids quarantined instead because they had used up their tries."""
    with engine.begin() as conn:
        taken = [OutboxRow(r.id, r.table_name, r.row_key, r.operation, r.attempts, r.status_reason, run_id)
                 for r in conn.execute(statement("outbox/claim"),
                                       {"ids": list(ids), "lease": policy.lease, "run_id": run_id})]
        exhausted = [row for row in taken if row.attempts > policy.max_tries]
        for row in exhausted:
            _give_up(conn, row, row.status_reason or "none recorded (the runs did not finish)", row.attempts - 1)
    return sorted((r for r in taken if r.attempts <= policy.max_tries), key=lambda r: r.id), [r.id for r in exhausted]


def pushes_for(rows: Iterable[OutboxRow], registry: Registry = DEFAULT
               ) -> list[tuple[tuple[Push, ...], list[OutboxRow]]]:
    """The pushes sending the records of `rows` (those of the entity whose tables hold them, or of
    the entity `SENT_WITH` names), in the order full_push runs them, each group with its rows.
    Rows of a table no push sends are returned under no push (the triggers are on pushed tables
    only: none today)."""
    by_table: dict[str, list[OutboxRow]] = {}
    for row in rows:
        by_table.setdefault(row.table_name, []).append(row)
    tables_of = {entity.name: [table.table for table in entity.tables] for entity in registry.entities}
    groups = []
    for entity in registry.entities:
        if not entity.pushes:
            continue
        sent_here = [name for name, sender in SENT_WITH.items() if sender == entity.name]
        tables = [*tables_of[entity.name], *(table for name in sent_here for table in tables_of.get(name, ()))]
        mine = sorted((row for table in tables for row in by_table.pop(table, [])), key=lambda row: row.id)
        if mine:
            groups.append((entity.pushes, mine))
    unsent = [row for rest in by_table.values() for row in rest]
    return groups + ([((), unsent)] if unsent else [])


@dataclass(frozen=True)
class _Refresher:
    """How a batch's rows of some church tables are read back from PCO before their push."""

    spec: ResourceSpec                     # the PCO records read, landed as the extract lands them
    tables: tuple[str, ...]                # the church tables whose outbox rows name them
    named: str                             # statement: the records' (pco_id, parent_pco_id)
    load: Callable[[sa.Engine, Sequence[str], SyncPolicies | None], LoadReport]


PEOPLE = spec_for("people/people")
_REFRESHERS = (
    # A person with the contacts and addresses the landing holds; its load is scoped to them.
    _Refresher(PEOPLE, ("people", "person_emails", "person_phones"), "outbox/people_to_refresh",
               lambda engine, ids, policies: load_people(engine, pco_ids=ids, policies=policies).counts),
    # Households, groups and memberships: their loads are incremental (what changed since their
    # last run: the records just landed, and the church's edits), as the church/* assets run them.
    _Refresher(spec_for("people/households"), ("families", "family_members"), "outbox/households_to_refresh",
               lambda engine, _ids, policies: load_families(engine, policies=policies, incremental=True)),
    # A group before its memberships, as the groups load runs before theirs.
    _Refresher(spec_for("groups/groups"), ("church_group",), "outbox/groups_to_refresh",
               lambda engine, _ids, _policies: load_groups(engine, incremental=True)),
    _Refresher(spec_for("groups/memberships"), ("group_membership",), "outbox/memberships_to_refresh",
               lambda engine, _ids, policies: load_group_memberships(engine, policies=policies, incremental=True)),
)


@dataclass
class Refresh:
    """What reading PCO's side of a batch did (`refresh_pco_side`), per PCO resource."""

    read: dict[str, list[str]] = field(default_factory=dict)     # records read and landed
    gone: dict[str, list[str]] = field(default_factory=dict)     # records PCO answered 404 for
    landed: landing.LandingResult = field(default_factory=landing.LandingResult)
    loads: LoadReport = field(default_factory=dict)


def refresh_pco_side(engine: sa.Engine, client: PCOClient, rows: Sequence[OutboxRow], *,
                     policies: SyncPolicies | None = None, phone_region: str = DEFAULT_PHONE_REGION) -> Refresh:
    """Bring PCO's side of the records `rows` name up to date before their push: one GET per linked
    PCO record (a person, with the includes the landing holds, for a row of a person, email or
    phone; a household for a family or family member; a group; a group membership), landed as a
    webhook delivery is (the incremental cursor does not move), then the load of its entity
    (people: scoped to those read). The load applies the three-way rule: a field PCO changed since
    the last load takes PCO's value, or, when the church changed it too, is a conflict recorded in
    sync_conflicts and decided by its policy (a group's fields: the church's). The push then plans
    against PCO as it is now. Once every read landed, the rows are stamped `pco_read_at` (those
    still held by the run that claimed them): the people push's hold needs no listing for them.

    Records without a pco_id (creates) need no read. A record PCO answers 404 for is left to the
    push, which reports it missing in PCO. Bounded: one read per record the batch names.
    `full_push` does not read first: its window is the time since the last load, which webhooks
    narrow. Not read: the PCO addresses a family's address is pushed to (they come with the
    household's people, read only when the batch names those people)."""
    refresh = Refresh()
    for refresher in _REFRESHERS:
        ids = [row.id for row in rows if row.table_name in refresher.tables]
        if not ids:
            continue
        with engine.connect() as conn:
            named = conn.execute(statement(refresher.named), {"ids": ids}).all()
        spec = refresher.spec
        for pco_id, parent in named:
            path = spec.path.format(parent_id=parent) if spec.nested else spec.path
            try:
                record = client.get_resource(f"{path}/{pco_id}", include=spec.include or None)
            except PCONotFound:
                refresh.gone.setdefault(spec.name, []).append(pco_id)
                continue
            with engine.begin() as conn:
                refresh.landed.merge(landing.land_records(conn, spec, [record], parent_pco_id=parent,
                                                          advance_cursor=False, phone_region=phone_region))
            refresh.read.setdefault(spec.name, []).append(pco_id)
        if spec.name in refresh.read:
            refresh.loads.update(refresher.load(engine, refresh.read[spec.name], policies))
    with engine.begin() as conn:
        for run_id in {row.run_id for row in rows}:
            conn.execute(statement("outbox/mark_read"),
                         {"ids": [row.id for row in rows if row.run_id == run_id], "run_id": run_id})
    return refresh


def record_pushed(engine: sa.Engine, rows: Sequence[OutboxRow], outcomes: Outcomes) -> None:
    """The push of `rows` ran to its end: each row is `quarantined` when the push holds its record
    in the outbound quarantine (with the quarantine's reason), `needs_action` when a change it
    names is one PCO's API cannot take and PCO does not hold yet (an open needs-action row: its
    instruction is the reason; whatever else the row changed was sent), else `sent`."""
    ids = [row.id for row in rows]
    with engine.begin() as conn:
        held = {r.id: r.quarantined_because
                for r in conn.execute(statement("outbox/quarantined_records"), {"ids": ids})
                if r.quarantined_because is not None}
        to_do = {r.id: r.action_needed
                 for r in conn.execute(statement("outbox/needs_action_records"), {"ids": ids})
                 if r.action_needed is not None and r.id not in held}
        sent = [i for i in ids if i not in held and i not in to_do]
        if sent:
            conn.execute(statement("outbox/finish"), {"ids": sent, "status": "sent", "reason": None})
        for status, reasons in (("quarantined", held), ("needs_action", to_do)):
            for outbox_id, reason in reasons.items():
                conn.execute(statement("outbox/finish"), {"ids": [outbox_id], "status": status,
                                                          "reason": _short(reason)})
    outcomes.add("sent", sent)
    outcomes.add("quarantined", held)
    outcomes.add("needs_action", to_do)


def record_failed(engine: sa.Engine, rows: Sequence[OutboxRow], reason: str, outcomes: Outcomes,
                  policy: RetryPolicy = RETRY) -> None:
    """The push of `rows` stopped with `reason`: each row is due again after its backoff, or
    quarantined once it has had `policy.max_tries` tries."""
    with engine.begin() as conn:
        for row in rows:
            if row.attempts >= policy.max_tries:
                _give_up(conn, row, reason, row.attempts)
                outcomes.add("quarantined", [row.id])
            else:
                conn.execute(statement("outbox/fail"),
                             {"ids": [row.id], "reason": _short(reason), "wait": policy.backoff(row.attempts)})
                outcomes.add("failed", [row.id])


def _give_up(conn: sa.Connection, row: OutboxRow, last_error: str, tries: int) -> None:
    reason = _short(f"gave up after {tries} tries; last error: {last_error}")
    conn.execute(statement("outbox/finish"), {"ids": [row.id], "status": "quarantined", "reason": reason})
    quarantine.quarantine_record(
        conn, QUARANTINE_ENTITY, str(row.id), "push_failed",
        f"the church's {row.operation} of {row.table_name} {row.row_key} (outbox row {row.id}) could not be pushed: "
        f"{reason}. Fix the cause, then run the push (`pco-pipeline push`).",
        local_id=row.id, direction="outbound", details={"table": row.table_name, "row_key": row.row_key})


# --- the backlog, for staff ----------------------------------------------------------------------

@dataclass(frozen=True)
class TableBacklog:
    """The open and stuck rows of one church table (`outbox/backlog.sql`); sent rows are not counted."""

    table_name: str
    pending: int                     # waiting, including those a run holds now (`held`)
    held: int
    failed: int                      # due again at their next attempt
    quarantined: int
    needs_action: int
    oldest_open: datetime | None     # the oldest change still pending or failed
    next_retry: datetime | None      # the earliest next attempt of a failed row


@dataclass(frozen=True)
class Backlog:
    """The outbox's backlog, per table, with totals."""

    tables: list[TableBacklog]

    def total(self, status: str) -> int:
        return sum(getattr(table, status) for table in self.tables)

    @property
    def open(self) -> int:
        """Rows not pushed yet (pending or failed)."""
        return self.total("pending") + self.total("failed")

    @property
    def oldest_open(self) -> datetime | None:
        return min((t.oldest_open for t in self.tables if t.oldest_open is not None), default=None)

    @property
    def next_retry(self) -> datetime | None:
        return min((t.next_retry for t in self.tables if t.next_retry is not None), default=None)


@dataclass(frozen=True)
class ListedRow:
    """One outbox row as staff see it (`outbox/list.sql`)."""

    id: int
    table_name: str
    row_key: str
    operation: str
    changed_columns: list[str]
    changed_at: datetime
    status: str
    attempts: int
    next_attempt_at: datetime | None
    run_id: str | None
    status_reason: str | None
    finished_at: datetime | None


def backlog(conn: sa.Connection) -> Backlog:
    """What waits, failed, was given up or needs action in PCO, per church table."""
    return Backlog([TableBacklog(**row._mapping) for row in conn.execute(statement("outbox/backlog"))])


def rows_in(conn: sa.Connection, status: str, *, limit: int = 100) -> list[ListedRow]:
    """Up to `limit` rows in `status` (one of `STATUSES`), oldest first, with their reasons."""
    if status not in STATUSES:
        raise ValueError(f"no outbox status {status!r}: one of {', '.join(STATUSES)}")
    return [ListedRow(**row._mapping)
            for row in conn.execute(statement("outbox/list"), {"status": status, "row_limit": limit})]


def retry(conn: sa.Connection, ids: Sequence[int], *, asked_by: str) -> list[int]:
    """Make the failed or quarantined rows of `ids` wait again with a fresh set of tries, due at
    once (the sensor hands them to a run at its next tick); the quarantine entries the outbox
    opened when it gave up on them are resolved. Returns the ids changed (others: left as they are)."""
    retried = list(conn.execute(statement("outbox/retry"), {
        "ids": list(ids), "statuses": list(RETRIABLE),
        "reason": _short(f"sent again at the request of {asked_by}")}).scalars())
    quarantine.resolve_records(conn, QUARANTINE_ENTITY, [str(outbox_id) for outbox_id in retried])
    return retried
