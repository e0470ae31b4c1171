"""The retention purge (`sync/retention.py`): how long each batch holds its rows' locks on a first
purge of a large backlog, and what the nightly purge costs once nothing is left to delete.

Setup (not timed), per database: N webhook_inbox deliveries received over the last 60 days (98%
applied or ignored, 1% failed, 1% quarantined) and N/5 church_outbox rows over the same days
(98% sent), then ANALYZE. About half of the finished rows are older than the 30-day period.

Timed:
- first purge: every 10,000-row DELETE (its statement and transaction: the time its rows stay
  locked), median and longest, and the whole purge;
- idle purge: the same purge again, nothing left to delete but the few rows that aged past the
  period meanwhile (the nightly cost from then on), median of IDLE_ROUNDS.
Each with sql/0024's partial indexes and, as the peer, without them (dropped in a copy).

Targets: a batch holds its locks ≤ 1 s; an idle purge ≤ 0.1 s.

    .venv/bin/python -m bench bench_retention           # 1,000,000 deliveries
    .venv/bin/python -m bench.bench_retention --sizes 100000
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import event

from bench._support import drop_database, fresh_database, sized_runs_arguments
from pco_pipeline.db.engine import get_engine
from pco_pipeline.sync import retention

TARGET_BATCH_SECONDS = 1.0
TARGET_IDLE_SECONDS = 0.1
IDLE_ROUNDS = 5
TEMPLATE = "pco_bench_template"
DATABASE = "pco_bench_retention"
PERIOD = timedelta(days=retention.DEFAULT_DAYS)

SEED = """
INSERT INTO webhook_inbox (event_name, delivery_id, raw_body, received_at, status, processed_at)
SELECT 'people.v2.events.person.updated', 'delivery-' || i, convert_to(repeat('x', 400), 'UTF8'),
       now() - interval '60 days' * (1 - i / CAST(:n AS float)),
       CASE WHEN i % 100 = 0 THEN 'failed' WHEN i % 100 = 1 THEN 'quarantined'
            WHEN i % 10 = 2 THEN 'ignored' ELSE 'applied' END,
       CASE WHEN i % 100 > 0 THEN now() - interval '60 days' * (1 - i / CAST(:n AS float)) END
FROM generate_series(1, :n) AS i;
INSERT INTO church_outbox (table_name, row_key, operation, changed_columns, changed_at, status, finished_at)
SELECT 'people', CAST(i AS text), 'update', '{last_name}', now() - interval '60 days' * (1 - i / CAST(:m AS float)),
       CASE WHEN i % 100 = 0 THEN 'failed' WHEN i % 100 = 1 THEN 'needs_action' ELSE 'sent' END,
       CASE WHEN i % 100 > 0 THEN now() - interval '60 days' * (1 - i / CAST(:m AS float)) END
FROM generate_series(1, :m) AS i;
"""


def _measure(url: str, size: int) -> dict:
    engine = get_engine(url)   # pooled, as the job's
    with engine.begin() as conn:
        for part in SEED.split(";\n"):
            if part.strip():
                conn.execute(sa.text(part), {"n": size, "m": size // 5})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE webhook_inbox, church_outbox")
    batches: list[float] = []
    started: dict[int, float] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        started[id(cursor)] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        if "DELETE FROM" in statement:
            batches.append(time.perf_counter() - started.pop(id(cursor)))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    began = time.perf_counter()
    first = retention.purge(engine, older_than=PERIOD)
    total = time.perf_counter() - began
    first_batches = list(batches)     # the idle purges' statements that follow are not batches
    idle = []
    for _ in range(IDLE_ROUNDS):
        began = time.perf_counter()
        retention.purge(engine, older_than=PERIOD)   # only the few rows that aged past the period since
        idle.append(time.perf_counter() - began)
    engine.dispose()
    return {"deleted": sum(first.rows.values()), "batches": len(first_batches),
            "batch_median": statistics.median(first_batches), "batch_max": max(first_batches), "total": total,
            "idle": statistics.median(idle)}


def main(argv: list[str] | None = None) -> int:
    args = sized_runs_arguments("bench_retention", [1_000_000], argv)
    print(f"{'deliveries':>10} {'indexes':<8} {'deleted':>8} {'batches':>7} {'batch med':>9} {'batch max':>9} "
          f"{'÷ target':>8} {'purge':>7} {'idle':>7} {'÷ target':>8}")
    for size in args.sizes:
        for indexed in (True, False):
            url = fresh_database(DATABASE, TEMPLATE)
            if not indexed:
                engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
                with engine.begin() as conn:
                    conn.exec_driver_sql("DROP INDEX church_outbox_sent_idx; DROP INDEX webhook_inbox_finished_idx")
                engine.dispose()
            try:
                r = _measure(url, size)
            finally:
                drop_database(DATABASE)
            print(f"{size:>10} {'0024' if indexed else 'none':<8} {r['deleted']:>8} {r['batches']:>7} "
                  f"{r['batch_median']:>8.3f}s {r['batch_max']:>8.3f}s {r['batch_max'] / TARGET_BATCH_SECONDS:>8.2f} "
                  f"{r['total']:>6.1f}s {r['idle']:>6.3f}s {r['idle'] / TARGET_IDLE_SECONDS:>8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
