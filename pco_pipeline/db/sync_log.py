"""`pco_sync_log`: one row per sync run, written when it starts and kept current while it runs.

    run = start_run(engine, "people", "inbound", run_id=context.run_id)
    progress = run.progress(every_seconds=5)          # throttled counter updates
    progress.update(created=10, updated=3)            # absolute totals so far
    finish_run(engine, run.id, "success", counts)     # or "failed" with error=...

Counter writes are absolute (the caller's running totals), so a repeated or lost update never
double-counts. Error text passes through `redact_secrets` before it is stored.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

STATUSES = ("running", "success", "failed", "partial")
DIRECTIONS = ("inbound", "outbound", "webhook")
COUNTERS = ("created_count", "updated_count", "skipped_count", "failed_count", "requests_used")
MAX_ERROR_LENGTH = 4000

# user:password@ in URLs, and key=value / "key": "value" pairs whose key looks secret.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
_SECRET_PAIRS = re.compile(
    r"(?P<key>[\"']?\b[\w-]*(?:secret|password|passwd|token|authorization|api[_-]?key)[\w-]*[\"']?\s*[:=]\s*)"
    r"(?P<quote>[\"']?)(?:Basic |Bearer )?[^\s\"',;]+", re.IGNORECASE)


def redact_secrets(text: str) -> str:
    """`text` with URL credentials and secret-looking key/value pairs masked."""
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    return _SECRET_PAIRS.sub(r"\g<key>\g<quote>***", text)


def _stored_error(error: str | BaseException | None) -> str | None:
    """The error as stored: secrets masked, at most MAX_ERROR_LENGTH characters."""
    if error is None:
        return None
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return redact_secrets(text)[:MAX_ERROR_LENGTH]


def _counter_values(created: int | None = None, updated: int | None = None, skipped: int | None = None,
                    failed: int | None = None, requests_used: int | None = None) -> dict[str, int]:
    values = {"created_count": created, "updated_count": updated, "skipped_count": skipped,
              "failed_count": failed, "requests_used": requests_used}
    return {k: int(v) for k, v in values.items() if v is not None}


@dataclass
class SyncRun:
    """A started run: its row id and the engine it writes to."""

    id: int
    engine: sa.Engine

    def progress(self, every_seconds: float = 5.0) -> "ProgressWriter":
        return ProgressWriter(self, every_seconds)


@dataclass
class ProgressWriter:
    """Writes counters at most every `every_seconds` (call `update` as often as convenient)."""

    run: SyncRun
    every_seconds: float = 5.0
    _last_write: float = field(default=float("-inf"), repr=False)
    _pending: dict[str, int] = field(default_factory=dict, repr=False)

    def update(self, *, force: bool = False, **counters: int) -> bool:
        """Record running totals (created=, updated=, skipped=, failed=, requests_used=); True if written."""
        self._pending.update(_counter_values(**counters))
        now = time.monotonic()
        if not force and now - self._last_write < self.every_seconds:
            return False
        if self._pending:
            update_counts(self.run.engine, self.run.id, **{k.removesuffix("_count"): v
                                                          for k, v in self._pending.items()})
            self._pending.clear()
        self._last_write = now
        return True


def start_run(engine: sa.Engine, sync_type: str, direction: str, *, run_id: str | None = None) -> SyncRun:
    """Insert the run's row with status 'running'; returns it."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    with engine.begin() as conn:
        row_id = conn.execute(sa.text(
            "INSERT INTO pco_sync_log (run_id, sync_type, direction) VALUES (:run_id, :t, :d) RETURNING id"),
            {"run_id": run_id, "t": sync_type, "d": direction}).scalar_one()
    return SyncRun(id=row_id, engine=engine)


def update_counts(engine: sa.Engine, log_id: int, **counters: int) -> None:
    """Set the run's counters to these totals (created=, updated=, skipped=, failed=, requests_used=)."""
    values = _counter_values(**counters)
    if not values:
        return
    assignments = ", ".join(f"{column} = :{column}" for column in values)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE pco_sync_log SET {assignments} WHERE id = :id"), {**values, "id": log_id})


def finish_run(engine: sa.Engine, log_id: int, status: str, *, error: str | BaseException | None = None,
               **counters: int) -> None:
    """Close the run with `status` (success, failed, partial), final counters and the error, if any."""
    if status not in STATUSES or status == "running":
        raise ValueError(f"a finished run's status is success, failed or partial, got {status!r}")
    message = _stored_error(error)
    values = _counter_values(**counters)
    assignments = "".join(f", {column} = :{column}" for column in values)
    with engine.begin() as conn:
        conn.execute(sa.text(
            f"UPDATE pco_sync_log SET status = :status, finished_at = greatest(clock_timestamp(), started_at),"
            f" error_message = :error{assignments} WHERE id = :id"),
            {**values, "status": status, "error": message, "id": log_id})


@dataclass(frozen=True)
class RunSummary:
    id: int
    run_id: str | None
    sync_type: str
    direction: str
    status: str
    started_at: object
    finished_at: object
    created_count: int
    updated_count: int
    skipped_count: int
    failed_count: int
    requests_used: int
    error_message: str | None


def recent_runs(engine: sa.Engine, limit: int = 20) -> list[RunSummary]:
    """The latest runs, newest first (for `pco-pipeline history`)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT id, run_id, sync_type, direction, status, started_at, finished_at, created_count,"
            " updated_count, skipped_count, failed_count, requests_used, error_message"
            " FROM pco_sync_log ORDER BY started_at DESC, id DESC LIMIT :limit"), {"limit": limit}).all()
    return [RunSummary(*row) for row in rows]


def run_for(engine: sa.Engine, run_id: str, sync_type: str, direction: str) -> SyncRun:
    """The row of Dagster run `run_id`, created (status running) by the first step that asks.

    Every step of a run reports into the same row; concurrent first steps create it once.
    """
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"sync_log:{run_id}"})
        row_id = conn.execute(sa.text("SELECT id FROM pco_sync_log WHERE run_id = :r ORDER BY id LIMIT 1"),
                              {"r": run_id}).scalar()
        if row_id is None:
            if direction not in DIRECTIONS:
                raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
            row_id = conn.execute(sa.text(
                "INSERT INTO pco_sync_log (run_id, sync_type, direction) VALUES (:r, :t, :d) RETURNING id"),
                {"r": run_id, "t": sync_type, "d": direction}).scalar_one()
    return SyncRun(id=row_id, engine=engine)


def counts_of(engine: sa.Engine, log_id: int) -> dict[str, int]:
    """The run's current counters as keyword arguments for `update_counts` (created=, …)."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(f"SELECT {', '.join(COUNTERS)} FROM pco_sync_log WHERE id = :id"),
                           {"id": log_id}).one()
    return {column.removesuffix("_count"): value for column, value in zip(COUNTERS, row)}


def mark_step(engine: sa.Engine, log_id: int, status: str, *, error: str | BaseException | None = None,
              last_step: bool = True) -> None:
    """A step of a multi-step run started ('running') or ended ('success'/'partial'/'failed').

    A step that ends well but is not the run's `last_step` leaves the row `running` (no
    `finished_at`): between the steps of a run (extract, then load) every reader (console, `history`,
    the API) still sees it running; the last step writes the run's outcome. A failure is final for
    the run at once: later steps' 'running'/'success' do not hide it. (`partial` needs no such rule:
    the caller derives it from the run's cumulative failed count.)
    """
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    if status in ("success", "partial") and not last_step:
        status = "running"
    message = _stored_error(error)
    finished = "NULL" if status == "running" else "greatest(clock_timestamp(), started_at)"
    with engine.begin() as conn:
        conn.execute(sa.text(
            f"UPDATE pco_sync_log SET status = :status, finished_at = {finished},"
            " error_message = coalesce(:error, error_message) WHERE id = :id AND status <> 'failed'"),
            {"status": status, "error": message, "id": log_id})


def fail_open_rows(engine: sa.Engine, run_id: str, reason: str) -> int:
    """Close the rows of Dagster run `run_id`, which ended without finishing its steps (its process
    died, it was canceled or interrupted), as `failed` with `reason`; returns how many changed.

    A row an earlier step left `success` or `partial` fails too (the run as a whole did not
    finish); a row already `failed` keeps its own error.
    """
    with engine.begin() as conn:
        return conn.execute(sa.text(
            "UPDATE pco_sync_log SET status = 'failed', finished_at = greatest(clock_timestamp(), started_at),"
            " error_message = :error WHERE run_id = :run_id AND status <> 'failed'"),
            {"run_id": run_id, "error": _stored_error(reason)}).rowcount


def close_succeeded_rows(engine: sa.Engine, run_id: str) -> int:
    """Close the `running` rows of Dagster run `run_id`, which succeeded, as `partial` when they
    count failed records, else `success`; returns how many changed.

    For a run whose last reporting steps ran side by side and ended together: each saw the other
    still running, so neither wrote the run's outcome.
    """
    with engine.begin() as conn:
        return conn.execute(sa.text(
            "UPDATE pco_sync_log SET status = CASE WHEN failed_count > 0 THEN 'partial' ELSE 'success' END,"
            " finished_at = greatest(clock_timestamp(), started_at) WHERE run_id = :run_id AND status = 'running'"),
            {"run_id": run_id}).rowcount


def running_run_ids(engine: sa.Engine) -> list[str]:
    """The Dagster runs that still have a `running` row."""
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT DISTINCT run_id FROM pco_sync_log WHERE status = 'running' AND run_id IS NOT NULL")).scalars())
