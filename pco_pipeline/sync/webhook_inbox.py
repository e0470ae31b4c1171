"""The applier's side of `webhook_inbox`: which rows are due, claiming them, and how each one ended.

A row's life (the receiver writes it `pending`):

    pending ──claim──▶ pending, tries + 1, next_try_at = now + lease   (a run holds it)
            ──▶ applied | ignored (with why)                          (final)
            ──▶ failed, next_try_at = now + backoff(tries)            (due again later)
            ──▶ quarantined                                           (after `max_tries` tries, or
                                                                       a body that can never apply)

Claiming is one UPDATE that only takes rows nobody holds (`next_try_at` unset or past), so two
runs handed the same ids never both apply them, and a run that dies while holding rows only
delays them until the lease ends. A quarantined row also opens a `sync_quarantine` entry
(entity `webhook_inbox`) so staff find it with the other records that could not be applied.
Applied and ignored rows are deleted once the retention period has passed (`sync/retention.py`);
no other row ever is.

Finding work (the sensor) is two bounded queries: rows after the sensor's cursor that were never
handed out, and rows at or before it that are due again (a failed try, an expired lease, or a
run that never started).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from pco_pipeline.sync import quarantine

QUARANTINE_ENTITY = "webhook_inbox"
OPEN_STATUSES = ("pending", "failed")
FINAL_STATUSES = ("applied", "ignored", "quarantined")
MAX_REASON_LENGTH = 1000


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a row that fails is tried again."""

    max_tries: int = 6
    first_backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    # How long a claimed row stays with the run that claimed it; longer than any sane run.
    lease: timedelta = timedelta(minutes=10)
    # A row handed to a run that never started (cancelled, lost) is handed out again after this.
    orphan_after: timedelta = timedelta(minutes=15)

    def backoff(self, tries: int) -> timedelta:
        """The wait after the `tries`-th failed try: 30 s, 1 min, 2 min, … at most `max_backoff`."""
        return min(self.max_backoff, self.first_backoff * (2 ** max(0, tries - 1)))


@dataclass(frozen=True)
class InboxRow:
    """One stored delivery, as the applier reads it."""

    id: int
    event_name: str
    delivery_id: str
    attempt: int
    event_time: datetime | None
    resource_type: str | None
    resource_id: str | None
    raw_body: bytes
    received_at: datetime
    tries: int
    status_reason: str | None


@dataclass(frozen=True)
class Outcome:
    """How one row ended in one run: applied, ignored or failed, and why."""

    inbox_id: int
    status: str
    reason: str | None = None


@dataclass
class Recorded:
    """What `record_outcomes` wrote: rows per resulting status."""

    counts: dict[str, int] = field(default_factory=dict)


_COLUMNS = ("id, event_name, delivery_id, attempt, event_time, resource_type, resource_id, raw_body,"
            " received_at, tries, status_reason")


def _row(values) -> InboxRow:
    return InboxRow(values.id, values.event_name, values.delivery_id, values.attempt, values.event_time,
                    values.resource_type, values.resource_id, bytes(values.raw_body), values.received_at,
                    values.tries, values.status_reason)


def _short(reason: str | None) -> str | None:
    """`reason` as the inbox stores it: at most MAX_REASON_LENGTH characters, and text the
    database can hold (a reason can quote a value from the delivery: a NUL or a lone surrogate
    there would otherwise fail the write that records the outcome of every row in the run)."""
    if reason is None:
        return None
    reason = reason.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    if len(reason) <= MAX_REASON_LENGTH:
        return reason
    return reason[:MAX_REASON_LENGTH - 1] + "…"


# --- finding work ---------------------------------------------------------------------------------

def new_row_ids(conn: sa.Connection, *, after_id: int, limit: int) -> list[int]:
    """Up to `limit` ids after `after_id` still waiting to be applied, oldest first."""
    return list(conn.execute(sa.text(
        "SELECT id FROM webhook_inbox WHERE id > :after AND status IN ('pending', 'failed')"
        " AND (next_try_at IS NULL OR next_try_at <= now()) ORDER BY id LIMIT :limit"),
        {"after": after_id, "limit": limit}).scalars())


@dataclass(frozen=True)
class DueRetries:
    ids: list[int]
    # The latest due moment among them: with the ids, it names this retry batch (a new failure
    # moves it, so the next retry of the same rows is a different batch).
    due_marker: datetime | None


def due_retry_ids(conn: sa.Connection, *, up_to_id: int, limit: int, policy: RetryPolicy = RetryPolicy()
                  ) -> DueRetries:
    """Rows at or before `up_to_id` that should be handed out again: their retry or lease is due,
    or they were handed to a run that never claimed them (`policy.orphan_after` ago)."""
    rows = conn.execute(sa.text(
        "SELECT id, COALESCE(next_try_at, received_at) AS due FROM webhook_inbox"
        " WHERE id <= :up_to AND status IN ('pending', 'failed')"
        "   AND (next_try_at <= now()"
        "        OR (next_try_at IS NULL AND received_at <= now() - CAST(:orphan AS interval)))"
        " ORDER BY id LIMIT :limit"),
        {"up_to": up_to_id, "limit": limit, "orphan": policy.orphan_after}).all()
    return DueRetries([r.id for r in rows], max((r.due for r in rows), default=None))


def open_ids_in_range(conn: sa.Connection, first_id: int, last_id: int) -> list[int]:
    """Ids from `first_id` to `last_id` (inclusive) not yet applied, ignored or quarantined."""
    return list(conn.execute(sa.text(
        "SELECT id FROM webhook_inbox WHERE id BETWEEN :first AND :last AND status IN ('pending', 'failed')"
        " ORDER BY id"), {"first": first_id, "last": last_id}).scalars())


# --- claiming and recording -------------------------------------------------------------------------

@dataclass
class Claim:
    rows: list[InboxRow]             # now held by this run, tries already counted
    gave_up: list[int]               # had used up their tries: quarantined instead


def claim(engine: sa.Engine, ids: Sequence[int], policy: RetryPolicy = RetryPolicy()) -> Claim:
    """Take the rows of `ids` that are open and not held by another run (see the module doc)."""
    with engine.begin() as conn:
        taken = conn.execute(sa.text(
            f"UPDATE webhook_inbox SET tries = tries + 1, next_try_at = now() + CAST(:lease AS interval)"
            f" WHERE id = ANY(:ids) AND status IN ('pending', 'failed')"
            f"   AND (next_try_at IS NULL OR next_try_at <= now())"
            f" RETURNING {_COLUMNS}"), {"ids": list(ids), "lease": policy.lease}).all()
        rows = sorted((_row(r) for r in taken), key=lambda r: r.id)
        exhausted = [r for r in rows if r.tries > policy.max_tries]
        for row in exhausted:
            _quarantine(conn, row, f"gave up after {row.tries - 1} tries; last error: "
                                   f"{row.status_reason or 'none recorded (the runs did not finish)'}")
    return Claim([r for r in rows if r.tries <= policy.max_tries], [r.id for r in exhausted])


def _quarantine(conn: sa.Connection, row: InboxRow, reason: str) -> None:
    conn.execute(sa.text(
        "UPDATE webhook_inbox SET status = 'quarantined', status_reason = :reason, next_try_at = NULL,"
        " processed_at = now() WHERE id = :id"), {"id": row.id, "reason": _short(reason)})
    quarantine.quarantine_record(
        conn, QUARANTINE_ENTITY, row.delivery_id, "webhook_failed",
        f"webhook {row.event_name} (inbox row {row.id}) could not be applied: {reason}",
        pco_id=row.resource_id, local_id=row.id, direction="webhook",
        details={"event_name": row.event_name, "resource_type": row.resource_type, "tries": row.tries})


def record_outcomes(engine: sa.Engine, rows: Sequence[InboxRow], outcomes: Sequence[Outcome],
                    policy: RetryPolicy = RetryPolicy()) -> Recorded:
    """Write each claimed row's outcome in one transaction.

    A failure is retried after `policy.backoff(tries)`; once a row has had `policy.max_tries`
    tries, or when the outcome is `quarantined` (a body that can never apply), it is quarantined.
    """
    by_id = {row.id: row for row in rows}
    recorded = Recorded()
    with engine.begin() as conn:
        for outcome in outcomes:
            row = by_id[outcome.inbox_id]
            status = outcome.status
            if status == "failed" and row.tries >= policy.max_tries:
                status = "quarantined"
                reason = f"gave up after {row.tries} tries; last error: {outcome.reason}"
            else:
                reason = outcome.reason
            if status == "quarantined":
                _quarantine(conn, row, reason or "no reason given")
            elif status == "failed":
                conn.execute(sa.text(
                    "UPDATE webhook_inbox SET status = 'failed', status_reason = :reason,"
                    " next_try_at = now() + CAST(:wait AS interval) WHERE id = :id"),
                    {"id": row.id, "reason": _short(reason), "wait": policy.backoff(row.tries)})
            elif status in ("applied", "ignored"):
                conn.execute(sa.text(
                    "UPDATE webhook_inbox SET status = :status, status_reason = :reason, next_try_at = NULL,"
                    " processed_at = now() WHERE id = :id"),
                    {"id": row.id, "status": status, "reason": _short(reason)})
            else:
                raise ValueError(f"unknown webhook outcome {status!r} for inbox row {row.id}")
            recorded.counts[status] = recorded.counts.get(status, 0) + 1
    return recorded


# --- reporting ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Backlog:
    by_status: dict[str, int]
    oldest_open: datetime | None     # received_at of the oldest row not yet final
    due_now: int                     # open rows a run could take right now
    # Authentic deliveries the receiver could not use, kept in webhook_rejections with the reason.
    rejected: int = 0
    last_rejected: datetime | None = None

    @property
    def open(self) -> int:
        return sum(self.by_status.get(s, 0) for s in OPEN_STATUSES)


def backlog(conn: sa.Connection) -> Backlog:
    """Rows per status, the oldest open one, how many are due now, and the rejected deliveries."""
    counts = dict(conn.execute(sa.text("SELECT status, count(*) FROM webhook_inbox GROUP BY status")).all())
    oldest, due = conn.execute(sa.text(
        "SELECT min(received_at), count(*) FILTER (WHERE next_try_at IS NULL OR next_try_at <= now())"
        " FROM webhook_inbox WHERE status IN ('pending', 'failed')")).one()
    rejected, last_rejected = conn.execute(sa.text(
        "SELECT count(*), max(received_at) FROM webhook_rejections")).one()
    statuses = (*OPEN_STATUSES, *FINAL_STATUSES)
    return Backlog({s: int(counts.get(s, 0)) for s in statuses}, oldest, int(due), int(rejected), last_rejected)
