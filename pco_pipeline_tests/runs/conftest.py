"""Command-line runs as staff launch them: every `pco-pipeline` command a real process, on a
Dagster instance of its own (the project's dagster.yaml, storage in a database of its own), the
church database of the test and the sandbox organization over HTTP.

Dagster's tables are read with plain SQL here (runs, concurrency_slots), independently of the
code under test.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_sandbox.core import Sandbox
from pco_sandbox.faults import Fault
from pco_pipeline_tests.outbound.conftest import add_person, mark_people_read
from pco_pipeline_tests.sandbox_fixtures import sandbox, sandbox_url  # noqa: F401 (fixtures register by being imported)

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "pco_pipeline.cli"]
# Below the PCO client's 30 s read timeout: each POST of the push is held this long, so a push
# stays mid-run for a minute or more (a person, then its email and phone).
HELD_POST_MS = 20_000


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> object:
    """Poll `condition` until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {seconds} s")


def cli_environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The environment of a `pco-pipeline` process with its own Dagster home (a copy of the
    project's dagster.yaml) and state directory; `settings` adds DATABASE_URL, PCO_* and so on."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PCO_", "DAGSTER_")) and k != "DATABASE_URL"}
    env.update(DAGSTER_HOME=str(home), PCO_PIPELINE_HOME=str(tmp_path / "state"), **settings)
    return env


@dataclass
class Cli:
    """`pco-pipeline` commands in `env`; processes started in the background are killed at the end."""

    env: dict[str, str]
    tmp_path: Path
    started: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, *args: str) -> Background:
        name = "-".join(args)
        stdout = (self.tmp_path / f"{name}.{len(self.started)}.out").open("w")
        stderr_path = self.tmp_path / f"{name}.{len(self.started)}.err"
        process = subprocess.Popen([*CLI, *args], cwd=ROOT, env=self.env, stdout=stdout,
                                   stderr=stderr_path.open("w"), text=True)
        self.started.append(process)
        return Background(process, stderr_path)

    def kill_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)


@dataclass
class Background:
    process: subprocess.Popen
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text()


@dataclass
class DagsterTables:
    """Dagster's run and pool tables, read with SQL."""

    engine: sa.Engine

    def runs(self) -> dict[str, tuple[str, str]]:
        """run id → (job, status)"""
        with self.engine.connect() as conn:
            return {row.run_id: (row.pipeline_name, row.status)
                    for row in conn.execute(sa.text("SELECT run_id, pipeline_name, status FROM runs"))}

    def run_of(self, job: str) -> str:
        (run_id,) = [run_id for run_id, (name, _status) in self.runs().items() if name == job]
        return run_id

    def slot_holders(self) -> set[str]:
        """The runs holding a pool slot."""
        with self.engine.connect() as conn:
            return set(conn.execute(sa.text(
                "SELECT run_id FROM concurrency_slots WHERE run_id IS NOT NULL")).scalars())


@pytest.fixture
def dagster_tables(empty_database_url: str) -> Iterator[DagsterTables]:
    engine = sa.create_engine(empty_database_url, poolclass=sa.pool.NullPool)
    yield DagsterTables(engine)
    engine.dispose()


@pytest.fixture
def cli(tmp_path: Path, database_url: str, empty_database_url: str, sandbox_url: str) -> Iterator[Cli]:
    """Commands on the test's church database and the sandbox, Dagster storage in a database of its own."""
    dagster_url = make_url(empty_database_url).set(drivername="postgresql+psycopg2")
    commands = Cli(cli_environment(tmp_path, DATABASE_URL=database_url,
                                   DAGSTER_PG_URL=dagster_url.render_as_string(hide_password=False),
                                   PCO_API_BASE=sandbox_url, PCO_APP_ID=DEMO_APP_ID, PCO_SECRET=DEMO_SECRET),
                   tmp_path)
    yield commands
    commands.kill_all()


def log_rows(engine: sa.Engine, sync_type: str) -> list[tuple[str, str | None]]:
    """(status, error_message) of the `pco_sync_log` rows of `sync_type`."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT status, error_message FROM pco_sync_log WHERE sync_type = :t ORDER BY id"), {"t": sync_type})]


@dataclass
class HeldPush:
    """A `pco-pipeline push people` caught mid-run: its POST to PCO is held by the sandbox."""

    background: Background
    fault: Fault
    run_id: str


@pytest.fixture
def held_push(request: pytest.FixtureRequest, cli: Cli, sandbox: Sandbox, engine: sa.Engine,
              dagster_tables: DagsterTables) -> HeldPush:
    """Two church people PCO lacks, the people listing done, and `push people` started with every
    POST held by the sandbox (HELD_POST_MS, or the milliseconds given as the fixture's parameter);
    returned once its run holds the pco_api slot and its first POST is in flight."""
    with engine.begin() as conn:
        add_person(conn, "Ann", "Held", birthdate=date(1980, 1, 2), email="ann.held@example.org",
                   phone="(217) 555-0101")
        add_person(conn, "Bob", "Held", birthdate=date(1981, 3, 4), email="bob.held@example.org")
    mark_people_read(engine)
    fault = sandbox.faults.add("latency", latency_ms=getattr(request, "param", HELD_POST_MS), method="POST")
    push = cli.start("push", "people")
    wait_for(lambda: fault.fired >= 1 or push.process.poll() is not None, 90, "the push's first POST")
    assert push.process.poll() is None, push.stderr()
    run_id = dagster_tables.run_of("push_people")
    assert run_id in dagster_tables.slot_holders()
    return HeldPush(push, fault, run_id)
