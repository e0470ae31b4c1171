"""Browser fixtures: Debian's Chromium driven by Playwright, and the whole stack behind the Dagster UI.

Chromium is Debian's package at /usr/bin/chromium (Playwright's own browser download is never
used). When it is missing, the session installs it with apt-get if it runs as root; otherwise,
or when that fails, the browser tests are skipped with the reason.

The stack: a seeded sandbox church over HTTP, the church's own overlapping dataset in a fresh
church database, a fresh Dagster storage database on the same server, and `dg dev` (webserver +
daemon) on a free loopback port in its own process group. The tests of this package share one
`dg dev` (`dagster_stack`: starting one costs some 20–60 s of two busy cores); each still gets a
fresh church database and its own seeded sandbox behind the same URLs. `dagster_ui` starts a `dg
dev` of the test's own, with the settings of `dagster_env`, for tests elsewhere that need others.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from pco_pipeline.commands.ui import start_dagster_dev
from pco_pipeline.defs.outbound.church_changes import INTERVAL_ENV as OUTBOX_INTERVAL_SETTING
from pco_pipeline.sync.policies import POLICIES_SETTING
from pco_pipeline_tests.conftest import create_test_database
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_sandbox.core import Sandbox
from pco_sandbox.server import run_sandbox_server
from pco_pipeline_tests.sandbox_fixtures import church, sandbox  # noqa: F401 (fixtures register by being imported)

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# As root in a container: no sandbox; and nothing that reaches for Google's hosts from a closed network.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
UI_START_SECONDS = 180


def _install_chromium() -> str | None:
    """Install Debian's chromium package; None when done, else why it could not be."""
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        return "no apt-get on this machine (install Chromium at /usr/bin/chromium)"
    if os.geteuid() != 0:
        return "not root, so cannot apt-get install chromium (install it, or run as root)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt_get, "update"],
                    [apt_get, "-o", "DPkg::Lock::Timeout=120", "install", "-y", "chromium"]):
        try:
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return f"`{' '.join(command)}` took more than 10 minutes"
        if result.returncode != 0:
            tail = " / ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
            return f"`{' '.join(command)}` failed ({result.returncode}): {tail}"
    return None if CHROMIUM.exists() else f"apt-get installed chromium but {CHROMIUM} is missing"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's Chromium, installed on first use when possible (else the test is skipped)."""
    if not CHROMIUM.exists():
        problem = _install_chromium()
        if problem:
            pytest.skip(f"headless Chromium is not available: {problem}")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def browser(chromium: str):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                   "(pip install -e '.[test]')")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    # Dagster greets a new instance with a "Join the Dagster community" dialog over whatever is open.
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
    yield page
    context.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def _location_status(base: str) -> str | None:
    """The code location's load status ("LOADED" once usable), or None while the UI is not up."""
    query = "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus " \
            "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
    try:
        response = httpx.post(f"{base}/graphql", json={"query": query}, timeout=10)
    except httpx.TransportError:
        return None
    if response.status_code != 200:
        return None
    entries = (response.json().get("data", {}).get("workspaceOrError") or {}).get("locationEntries") or []
    for entry in entries:
        loaded = entry.get("locationOrLoadError") or {}
        if loaded.get("__typename") == "PythonError":
            raise AssertionError(f"the code location failed to load: {loaded.get('message')}")
        if entry.get("name") == "pco_pipeline":
            return entry.get("loadStatus")
    return None


def _stop_process_group(process: subprocess.Popen) -> None:
    """Kill dg dev and everything it started (webserver, daemon, code server, run workers: one process
    group). No SIGINT first: a clean stop takes dg dev some 20 s, and what it would tidy up (its
    instance, the databases) goes with the test anyway."""
    for _ in range(2):   # again once it is gone: children that were starting up when the first kill landed
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=30)
        time.sleep(0.2)


@contextmanager
def _dagster_dev(home: Path, database_url: str, dagster_storage: URL, pco_base: str,
                 settings: dict[str, str]) -> Iterator[str]:
    """`dg dev` on the project's workspace with its instance in `home` (its log: home/dg-dev.log),
    the church at `database_url`, Dagster's storage at `dagster_storage`, PCO at `pco_base` and
    `settings` added to its environment; yields the UI's base URL once the code location is loaded."""
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PCO_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(home), DAGSTER_PG_URL=dagster_storage.render_as_string(hide_password=False),
               DATABASE_URL=database_url, PCO_API_BASE=pco_base, PCO_APP_ID=DEMO_APP_ID, PCO_SECRET=DEMO_SECRET,
               # the nightly schedule runs by default: keep its tick out of the test (29 February only)
               PCO_NIGHTLY_CRON="0 3 29 2 *")
    env.update(settings)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = home / "dg-dev.log"
    with log.open("w") as output:
        # Not started in the checkout: `dg dev` loads the working directory's .env over the
        # environment, and the checkout's .env names the developer's own Dagster database.
        process = start_dagster_dev("127.0.0.1", port, cwd=home, env=env, stdout=output,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + UI_START_SECONDS
        while _location_status(base) != "LOADED":
            if process.poll() is not None:
                raise AssertionError(f"dg dev exited with {process.returncode}:\n{_log_tail(log)}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the Dagster UI was not ready within {UI_START_SECONDS} s:\n{_log_tail(log)}")
            time.sleep(1)
        yield base
    finally:
        _stop_process_group(process)


@pytest.fixture
def dagster_env() -> dict[str, str]:
    """Settings added to the environment `dg dev` runs in (a test module overrides this fixture)."""
    return {}


@pytest.fixture
def dagster_ui(tmp_path: Path, database_url: str, empty_database_url: str, sandbox_url: str,
               dagster_env: dict[str, str]) -> Iterator[str]:
    """`dg dev` of this test's own, on its database and sandbox, with `dagster_env`; yields the UI's base URL."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    dagster_storage = make_url(empty_database_url).set(drivername="postgresql+psycopg2")
    with _dagster_dev(home, database_url, dagster_storage, sandbox_url, dagster_env) as base:
        yield base


@pytest.fixture
def dagster_log(tmp_path: Path):
    """A function returning the tail of `dagster_ui`'s log, for failure messages."""
    return lambda: _log_tail(tmp_path / "dagster_home" / "dg-dev.log")


# --- one dg dev for the tests of this package ------------------------------------------------------

# The church's policy file of the shared stack: a last name changed on both sides waits for staff
# (the console test decides such conflicts); a first sync, with no base yet, has no conflicts.
STACK_POLICIES = '[people]\nlast_name = "manual"\n'


@dataclass(frozen=True)
class DagsterStack:
    """`dg dev` shared by this package's tests, on the church database `database` (each test's
    `database_url`, made afresh for it) and PCO at `sandbox_port` (each test serves its own sandbox
    there, see `sandbox_url`); `settings` were added to its environment."""

    url: str
    database: str
    sandbox_port: int
    settings: dict[str, str]
    log: Path

    def log_tail(self) -> str:
        """The tail of dg dev's log, for failure messages."""
        return _log_tail(self.log)


def _admin(server_url: URL) -> sa.Engine:
    return sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


@pytest.fixture(scope="package")
def dagster_stack(tmp_path_factory: pytest.TempPathFactory, pg_server_url: URL,
                  template_database: str) -> Iterator[DagsterStack]:
    """One `dg dev` for the package: its own Dagster storage database, the policy file
    STACK_POLICIES, and the church-changes sensor ticking hourly (so the church's edits wait for
    the sync that finds a conflict; ticking every 15 s, it would push them first)."""
    root = tmp_path_factory.mktemp("dagster_stack")
    suffix = f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    church, storage = f"pco_ui_church_{suffix}", f"pco_ui_dagster_{suffix}"
    admin = _admin(pg_server_url)
    with admin.connect() as conn:
        for name in (church, storage):
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        create_test_database(conn, church, template_database)
        create_test_database(conn, storage)
    policies = root / "sync_policies.toml"
    policies.write_text(STACK_POLICIES, encoding="utf-8")
    settings = {POLICIES_SETTING: str(policies), OUTBOX_INTERVAL_SETTING: "3600"}
    sandbox_port = _free_port()
    church_url = pg_server_url.set(database=church).render_as_string(hide_password=False)
    dagster_storage = pg_server_url.set(drivername="postgresql+psycopg2", database=storage)
    try:
        with _dagster_dev(root, church_url, dagster_storage, f"http://127.0.0.1:{sandbox_port}", settings) as url:
            yield DagsterStack(url, church, sandbox_port, settings, root / "dg-dev.log")
    finally:
        with admin.connect() as conn:
            for name in (church, storage):
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def database_url(dagster_stack: DagsterStack, pg_server_url: URL, template_database: str) -> str:
    """The stack's church database, made afresh for this test: a copy of the migrated template
    (connections the stack's sensors hold to the previous one are closed by the drop)."""
    admin = _admin(pg_server_url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{dagster_stack.database}" WITH (FORCE)')
        create_test_database(conn, dagster_stack.database, template_database)
    admin.dispose()
    return pg_server_url.set(database=dagster_stack.database).render_as_string(hide_password=False)


@pytest.fixture
def sandbox_url(dagster_stack: DagsterStack, sandbox: Sandbox, church) -> Iterator[str]:
    """This test's sandbox over HTTP where the stack's PCO_API_BASE points, with the church loaded
    before the UI's runs read it."""
    with run_sandbox_server(sandbox, port=dagster_stack.sandbox_port) as base_url:
        yield base_url
