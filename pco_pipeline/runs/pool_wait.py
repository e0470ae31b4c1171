"""A command-line run waits for its pools before it exists, outside Dagster.

Why not let Dagster wait: in Dagster 1.13.27 the in-process executor retries a blocked pool
claim in a loop that runs under Dagster's interrupt capture without ever checking for an
interrupt, so a CLI run blocked on the `pco_api` slot ignored Ctrl-C and SIGTERM; no setting
changes that. (Unpatched, that loop also never slept, `interval_to_next_pending_claim_check`
returning `min(0, …)`, and used a whole core: `pco_pipeline.dagster_fixes` corrects that part.)
So a CLI run starts only once nothing else uses its pools, and Dagster's claim then succeeds at
once:

- among CLI runs: one PostgreSQL advisory lock per pool on Dagster's database, held by the
  process for its whole run. Dagster frees a slot between steps; a second CLI run starting
  there would wait inside that loop. The server drops the lock with the process's connection,
  however the process ends (kill -9 included);
- a run launched elsewhere (the daemon, the UI) that is starting, started or canceling and has
  steps in the pool is waited out.

The wait is a plain sleep between checks (one a second), so Ctrl-C and SIGTERM stop it at once.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from pco_pipeline.db.resolve import with_driver
from pco_pipeline.runs import control

POLL_SECONDS = 1.0
# Waiting on a lock whose holder shows no run yet (it is creating it) this long: say so anyway.
UNNAMED_HOLDER_SECONDS = 5.0
_LOCK_NAMESPACE = zlib.crc32(b"pco_pipeline pool") & 0x7FFFFFFF


def _lock_key(pool: str) -> int:
    return zlib.crc32(pool.encode()) & 0x7FFFFFFF


@contextmanager
def pools_held(instance: dg.DagsterInstance, pools: Collection[str], *, dagster_url: str, engine: sa.Engine,
               tell: Callable[[str], None]) -> Iterator[None]:
    """Wait until this process may run steps in `pools`, then hold them until the block ends.

    While waiting, dead CLI runs are ended (`control.end_dead_runs`, so a holder that dies
    is noticed) and `tell` is called once per run found holding a pool (run id, job, since when,
    launcher). `engine` is the church database's (for the runs' `pco_sync_log` rows).
    """
    if not pools:
        yield
        return
    wanted = sorted(pools)  # always locked in the same order: two processes cannot deadlock
    lock_engine = sa.create_engine(with_driver(dagster_url, "psycopg"), poolclass=sa.pool.NullPool,
                                   isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 10})
    connection = lock_engine.connect()
    try:
        _wait(instance, connection, wanted, engine, tell)
        yield
    finally:
        try:
            connection.close()  # releases the locks
        except SQLAlchemyError:
            pass  # the connection is gone already, and its locks with it
        lock_engine.dispose()


def _wait(instance: dg.DagsterInstance, connection: sa.Connection, pools: list[str], engine: sa.Engine,
          tell: Callable[[str], None]) -> None:
    locked: set[str] = set()
    told: set[str] = set()  # run ids already named
    unnamed_since: float | None = None
    told_unnamed = False
    while True:
        for pool in pools:
            if pool not in locked and connection.execute(
                    sa.text("SELECT pg_try_advisory_lock(:namespace, :key)"),
                    {"namespace": _LOCK_NAMESPACE, "key": _lock_key(pool)}).scalar_one():
                locked.add(pool)
        control.end_dead_runs(instance, engine, tell)  # a holder that died meanwhile
        holders = [run for run in control.unfinished_runs(instance)
                   if run.may_hold_pools and run.pools & set(pools)]
        if not holders and locked == set(pools):
            return
        for run in holders:
            if run.run_id not in told:
                told.add(run.run_id)
                shared = ", ".join(sorted(run.pools & set(pools)))
                tell(f"waiting for the {shared} pool: {run.describe()} is using it (Ctrl-C stops waiting)")
        if holders:
            unnamed_since = None
        elif unnamed_since is None:
            unnamed_since = time.monotonic()
        elif time.monotonic() - unnamed_since > UNNAMED_HOLDER_SECONDS and not told_unnamed:
            told_unnamed = True
            tell(f"waiting for the {', '.join(sorted(set(pools) - locked))} pool: another pco-pipeline command "
                 f"is starting a run in it (Ctrl-C stops waiting)")
        time.sleep(POLL_SECONDS)
