"""Retention of finished `church_outbox` and `webhook_inbox` rows: the one statement of the rule.
No Dagster here (the `purge_delivered` job and its nightly schedule: `defs/church_db/retention.py`;
by hand: `pco-pipeline purge`).

A row is deleted when it is finished and finished more than the retention period ago
(`PCO_DELIVERED_RETENTION_DAYS`, default 30, at least 7):
- `church_outbox`: `sent` (its `finished_at`): the push sent its record, nothing is left to do;
- `webhook_inbox`: `applied` or `ignored` (its `processed_at`).
Every other row stays, whatever its age: `pending` and `failed` rows are still to be sent or
applied, `quarantined` and `needs_action` rows wait for a person (their reasons are what staff
read; a quarantined row's `sync_quarantine` entry names it by id).

Deleting them loses nothing the pipeline still needs:
- no table references them by key (no foreign key; `sync_quarantine` names only quarantined rows);
- the inbox's delivery ids and idempotency tokens recognize a redelivery, and its applied rows
  are the monotonic guard's memory (`webhook_apply._guard`): PCO redelivers an event for five
  days at most, hence the floor of `MIN_DAYS`;
- the push's incremental comparison reads the outbox rows changed since its last run
  (`sync/sql/push/*.sql`): the push that marked a row sent ran after the change, and the push
  compares all its records after every nightly full refresh anyway;
- the sensors' cursors are ids, and ids are never reused.

Deleting goes in batches of at most `BATCH_SIZE` rows, each its own statement and transaction, so
a first purge of millions holds no long lock and never blocks the receiver or a run; each batch
finds its rows through partial indexes (sql/0024) and skips rows another transaction holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from pco_pipeline.sync.statements import statement

SETTING = "PCO_DELIVERED_RETENTION_DAYS"
DEFAULT_DAYS = 30
# PCO redelivers an event for five days at most: the inbox must remember a delivery longer.
MIN_DAYS = 7
MAX_DAYS = 3650
BATCH_SIZE = 10_000
# Each table's purge statement (one batch of its finished rows).
PURGE_STATEMENTS = {"church_outbox": "retention/church_outbox_purge", "webhook_inbox": "retention/webhook_inbox_purge"}
TABLES: tuple[str, ...] = tuple(PURGE_STATEMENTS)


@dataclass(frozen=True)
class Purge:
    """What one purge deleted (or, in a dry run, would delete): rows per table, and the statements
    it took."""

    finished_before: datetime
    rows: dict[str, int]
    batches: dict[str, int]
    dry_run: bool


def purge(engine: sa.Engine, *, older_than: timedelta, batch_size: int = BATCH_SIZE, dry_run: bool = False
          ) -> Purge:
    """Delete the rows of both tables finished more than `older_than` ago (the database's clock,
    read once), at most `batch_size` per statement, until none is left; with `dry_run`, count
    them and delete nothing."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    with engine.connect() as conn:
        finished_before = conn.execute(sa.select(sa.func.now() - older_than)).scalar_one()
        if dry_run:
            counts = conn.execute(statement("retention/count"), {"finished_before": finished_before}).one()
            return Purge(finished_before, {table: int(counts._mapping[table]) for table in TABLES},
                         dict.fromkeys(TABLES, 0), dry_run=True)
    rows, batches = dict.fromkeys(TABLES, 0), dict.fromkeys(TABLES, 0)
    for table in TABLES:
        while True:
            with engine.begin() as conn:
                deleted = conn.execute(statement(PURGE_STATEMENTS[table]),
                                       {"finished_before": finished_before, "batch_size": batch_size}).rowcount
            rows[table] += deleted
            batches[table] += 1
            if deleted < batch_size:
                break
    return Purge(finished_before, rows, batches, dry_run=False)
