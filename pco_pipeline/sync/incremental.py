"""Incremental loads (issue 17 item 3): a load reads only the records something changed for since
its last committed run, and a full comparison now and then checks that nothing was missed.

One mechanism for every load that has one (people, families, group hierarchy, group memberships):
1. `open_window` (first thing in the load's transaction, after `begin_load`): the watermark the
   last committed load left (`load_watermarks`, sql/0019), and the keys of the records an
   incremental run looks at — the entity's `changed_since` statement (sync/sql/<dir>/changed_since.sql,
   bound `:since`), materialized as a temp table. The run is *full* (every landed record is
   staged and compared) when there is no watermark yet, when the caller did not ask for an
   incremental run, or when a complete listing of PCO's people finished since the watermark:
   only the nightly full refresh makes one, so the full comparison runs nightly.
2. The load stages `window.scope` (None: everything) and writes as before.
3. A full run that had a watermark is the drift check: it counts the records it wrote that the
   incremental scope (`scope_table`) left out — what the incremental path missed, repaired by
   this very load; 0 expected. `count_drifted` counts them from every row this transaction
   wrote (`WRITTEN_HERE`: church rows, bases, conflicts) and the records it deleted; the people
   load counts them from its classification instead.
4. `close_window` commits the next watermark in the same transaction (a load that fails moves
   nothing, and the next run reads the same changes again), with the drift a full run found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from pco_pipeline.sync.loading import LoadCounts, Watermark, commit_watermark, read_watermark, snapshot_time
from pco_pipeline.sync.statements import statement

# The listing only the nightly full refresh makes (people are otherwise read by their cursor).
FULL_REFRESH_LISTING = "people/people"

# True for a row this transaction inserted or updated (SQL over a table alias: `.format(alias)`).
# The loads run without savepoints, so every row they write carries the transaction's own id.
WRITTEN_HERE = "{0}.xmin = pg_current_xact_id()::xid"


@dataclass(frozen=True)
class Window:
    """One load's view of what changed: `scope` is what to stage (None: every landed record),
    `full` whether every record is compared, and `scope_table` the temp table (column `key`) of
    what an incremental run looks at (None before the first committed load)."""

    entity: str
    since: datetime               # the snapshot time the next watermark records
    previous: Watermark | None
    full: bool
    scope: list[str] | None
    scope_table: str | None

    @property
    def checks_drift(self) -> bool:
        """A full run after an earlier load: it counts what the incremental path missed."""
        return self.full and self.scope_table is not None


class WindowedReport(dict[str, LoadCounts]):
    """A load's counts per entity (a `LoadReport`), and its window: whether it compared every
    landed record (`full`) or only those something changed for (`looked_at` of them), and what a
    drift check found (`drifted_records`, None when the run was not one)."""

    def __init__(self, counts: dict[str, LoadCounts], window: Window, looked_at: int, drifted_records: int) -> None:
        super().__init__(counts)
        self.full = window.full
        self.looked_at = looked_at
        self.drifted_records = drifted_records if window.checks_drift else None

    @classmethod
    def combined(cls, reports: Sequence[WindowedReport]) -> WindowedReport:
        """Several entities' loads as one report (one load writing several entities, each in its
        own window): every entity's counts, `full` when each compared everything, the records each
        looked at added up, and so is what each drift check found (None when none ran one)."""
        combined = cls.__new__(cls)
        for report in reports:
            combined.update(report)
        combined.full = all(report.full for report in reports)
        combined.looked_at = sum(report.looked_at for report in reports)
        drifts = [report.drifted_records for report in reports if report.drifted_records is not None]
        combined.drifted_records = sum(drifts) if drifts else None
        return combined

    def facts(self) -> dict[str, int]:
        """What the load's asset shows of its window (the people load shows the same names)."""
        drift = {} if self.drifted_records is None else {"drifted_records": self.drifted_records}
        return {"full_comparison": int(self.full), "records_looked_at": self.looked_at, **drift}


def open_window(conn: sa.Connection, entity: str, changed_since: str, *, incremental: bool) -> Window:
    """The window of `entity`'s load in this transaction (see the module doc); `changed_since` names
    the statement listing the keys an incremental run looks at."""
    since = snapshot_time(conn)
    previous = read_watermark(conn, entity)
    if previous is None:
        return Window(entity, since, None, True, None, None)
    table = f"incremental_{entity}"
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    conn.execute(sa.text(f"CREATE TEMP TABLE {table} ON COMMIT DROP AS SELECT DISTINCT c.key FROM "
                         f"({statement(changed_since).text}) c (key) WHERE c.key IS NOT NULL"),
                 {"since": previous.changed_since})
    full = not incremental or full_refresh_finished_since(conn, previous.changed_since)
    scope = None if full else list(conn.execute(sa.text(f"SELECT key FROM {table} ORDER BY key")).scalars())
    return Window(entity, since, previous, full, scope, table)


def full_refresh_finished_since(conn: sa.Connection, since: datetime) -> bool:
    """Whether a complete listing of PCO's people (`FULL_REFRESH_LISTING`) finished at or after
    `since` (a watermark): the rule that makes the next run of a load, and of a push's
    comparison (`church_changes.classify_changes`), compare every record."""
    return conn.execute(sa.text(
        "SELECT EXISTS (SELECT 1 FROM pco_listing WHERE resource = :r AND finished_at >= :since)"),
        {"r": FULL_REFRESH_LISTING, "since": since}).scalar_one()


def count_drifted(conn: sa.Connection, window: Window, written_sql: str, deleted: Iterable[str] = ()) -> int:
    """How many records a full run wrote that the incremental scope leaves out: the keys
    `written_sql` selects (a SELECT of one key column over the rows this transaction wrote, see
    `WRITTEN_HERE`) and `deleted` (the keys of records the run deleted), outside `window`'s scope."""
    if not window.checks_drift:
        return 0
    return conn.execute(sa.text(f"""
        SELECT count(DISTINCT w.key) FROM (
            SELECT * FROM ({written_sql}) x UNION ALL SELECT unnest(CAST(:deleted AS text[]))) w (key)
        WHERE w.key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {window.scope_table} s WHERE s.key = w.key)"""),
        {"deleted": list(deleted)}).scalar_one()


def close_window(conn: sa.Connection, window: Window, drifted_records: int | None) -> None:
    """Commit the next watermark with the load (and, for a drift check, what it found)."""
    commit_watermark(conn, window.entity, window.since, full=window.full,
                     drifted_records=drifted_records if window.checks_drift else None)
