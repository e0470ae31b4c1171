"""Run the project's Dagster jobs from the command line, exactly as the UI runs them.

The CLI resolves the database (starting the embedded server when needed), points Dagster at
its persistent instance (DAGSTER_HOME = the checkout, storage on the same PostgreSQL server),
and executes jobs in-process, so a run launched here shows up in the UI's run history.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

import psycopg
import sqlalchemy as sa
from sqlalchemy.exc import InterfaceError, OperationalError

from pco_pipeline.db.engine import get_engine
from pco_pipeline.db.errors import DatabaseUnavailableError
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.db.resolve import DatabaseTarget, redact, resolve_database, server_message
from pco_pipeline.paths import project_root
from pco_pipeline.runs.process import RunProcess

if TYPE_CHECKING:
    from dagster import DagsterInstance

log = logging.getLogger(__name__)


def prepare_environment() -> DatabaseTarget:
    """Resolve the database and export what Dagster and our resources read from the environment.

    Sets DAGSTER_HOME (unless the user set it) and DAGSTER_PG_URL (psycopg2 driver). Idempotent.
    """
    target = resolve_database()
    if not os.environ.get("DAGSTER_HOME"):
        home = project_root()
        if not (home / "dagster.yaml").exists():
            raise FileNotFoundError(
                f"no dagster.yaml in {home}: set DAGSTER_HOME to a directory holding one")
        os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_PG_URL", target.dagster_url)
    if not os.environ.get("PCO_PIPELINE_HOME"):  # a state dir elsewhere is not this checkout's instance
        _remember_dagster_url(os.environ["DAGSTER_PG_URL"])
    return target


def _remember_dagster_url(url: str) -> None:
    """Keep `DAGSTER_PG_URL` in the checkout's `.env`, which `dg` and `dagster` load from the cwd.

    Plain `dg check defs`, `dg dev` or `dg launch` typed in the checkout then find the same
    instance the CLI uses. Other lines of `.env` (a user's own settings) are kept as they are.
    """
    env_file = project_root() / ".env"
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    wanted = f"DAGSTER_PG_URL={url}"
    if wanted in lines:
        return
    kept = [line for line in lines if not line.startswith("DAGSTER_PG_URL=")]
    env_file.write_text("\n".join([*kept, wanted]) + "\n")


def run_job(job_name: str, run_config: dict[str, Any] | None = None, tags: dict[str, str] | None = None,
            log_level: str = "INFO"):
    """Execute `job_name` in-process on the persistent instance; return the ExecuteInProcessResult.

    First the runs whose CLI process is gone are ended (`control.end_dead_runs`), and the run
    waits, outside Dagster, until nothing else uses its pools (`pool_wait`; who holds them is said
    once on stderr). The run is tagged with this process (`RunProcess`). A run interrupted
    (Ctrl-C, SIGTERM) before Dagster took charge of it is marked canceled; a `pco_sync_log` row
    its interrupted step could not close ends failed. Losing the database raises
    DatabaseUnavailableError: one line naming the database and what failed (the traceback is
    logged at debug level).
    """
    from pco_pipeline.runs import control, pool_wait
    from pco_pipeline.definitions import defs

    target = prepare_environment()
    job = defs().resolve_job_def(job_name)
    # Progress and warnings on the terminal; the full event stream is in the UI's run view.
    config = {"loggers": {"console": {"config": {"log_level": log_level}}}, **(run_config or {})}
    launch = _Launch(job_name, run_id=str(uuid.uuid4()))
    with _database_outage_reported(target, launch), _outage_noise_muted(), \
            instance_and_engine(target) as (instance, engine):
        try:
            with pool_wait.pools_held(instance, job.graph.pools, dagster_url=os.environ["DAGSTER_PG_URL"],
                                      engine=engine, tell=_tell):
                launch.started = True
                result = job.execute_in_process(run_config=config, instance=instance, run_id=launch.run_id,
                                                tags={**(tags or {}), **RunProcess.current().tags()},
                                                raise_on_error=False)
        except KeyboardInterrupt:
            _end_interrupted(instance, engine, launch)
            raise
        control.close_logs_of_ended_runs(instance, engine)
        return result


@contextmanager
def instance_and_engine(target: DatabaseTarget, *, end_dead_runs: bool = True
                        ) -> Iterator[tuple[DagsterInstance, sa.Engine]]:
    """The persistent Dagster instance and the church database's engine (migrated), after ending
    the runs whose CLI process is gone (each said on stderr), unless `end_dead_runs` is false."""
    import dagster as dg

    from pco_pipeline.runs import control

    with dg.DagsterInstance.get() as instance:
        engine = get_engine(target.url)
        apply_migrations(engine)  # the runs' pco_sync_log rows are closed there
        if end_dead_runs:
            control.end_dead_runs(instance, engine, _tell)
        yield instance, engine


@dataclass
class _Launch:
    job_name: str
    run_id: str
    started: bool = False
    """Whether the run was handed to Dagster (it may exist)."""


def _tell(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _end_interrupted(instance: DagsterInstance, engine: sa.Engine, launch: _Launch) -> None:
    """Ctrl-C or SIGTERM reached us outside Dagster's own interrupt handling: before the run
    existed (while waiting for a pool), or between its creation and Dagster taking charge."""
    from pco_pipeline.runs import control

    run = instance.get_run_by_id(launch.run_id) if launch.started else None
    if run is None:
        _tell(f"interrupted: no {launch.job_name} run was started")
    elif not run.is_finished:
        control.end_run(instance, engine, launch.run_id, "canceled by Ctrl-C or SIGTERM before it started",
                            canceled=True)
        _tell(f"interrupted: run {launch.run_id} ({launch.job_name}) marked canceled")


@contextmanager
def _outage_noise_muted() -> Iterator[None]:
    """Unless debug logging is on (`-v`), drop what Dagster prints while its storage is unreachable:
    dagster-postgres's warning at each connection retry (dozens of lines, on the root logger) and
    the line Dagster writes straight to stderr when it cannot store an event. The run then stops
    with the error that `_database_outage_reported` turns into one line."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(_not_a_connection_retry)
    try:
        with redirect_stderr(_StreamWithout(sys.stderr, "Exception while writing logger call to event log")):
            yield
    finally:
        for handler in handlers:
            handler.removeFilter(_not_a_connection_retry)


def _not_a_connection_retry(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Retrying failed database connection")


class _StreamWithout:
    """A text stream that drops the writes starting with `prefix` and passes everything else on."""

    def __init__(self, stream: TextIO, prefix: str):
        self._stream, self._prefix = stream, prefix

    def write(self, text: str) -> int:
        return len(text) if text.startswith(self._prefix) else self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _database_outage_reported(target: DatabaseTarget, launch: _Launch) -> Iterator[None]:
    """Turn a lost database connection into a DatabaseUnavailableError naming the database."""
    from dagster_postgres.utils import DagsterPostgresException

    try:
        yield
    except (DagsterPostgresException, OperationalError, InterfaceError, psycopg.OperationalError) as exc:
        log.debug("lost the database (%s run %s)", launch.job_name, launch.run_id, exc_info=True)
        cause: BaseException = exc
        while isinstance(cause, DagsterPostgresException) and cause.__cause__ is not None:
            cause = cause.__cause__  # "too many retries": the connection error is its cause
        failed = getattr(cause, "orig", None) or cause
        # Dagster's storage is reached through psycopg2 (see resolve.py), the church database through psycopg 3.
        if isinstance(exc, DagsterPostgresException) or type(failed).__module__.startswith("psycopg2"):
            database = f"Dagster's storage {redact(os.environ.get('DAGSTER_PG_URL', ''))}"
        else:
            database = f"the church database {target.display_url()}"
        during = (f"during {launch.job_name} run {launch.run_id}: {server_message(cause)}. Run the command again "
                  f"once the database is back (this run is then marked failed)") if launch.started else \
            f"before {launch.job_name} started: {server_message(cause)}"
        raise DatabaseUnavailableError(f"lost {database} {during}") from None
