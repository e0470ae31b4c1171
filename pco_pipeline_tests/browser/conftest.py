"""Browser fixtures: Debian's Chromium driven by Playwright, and the whole stack behind the Dagster UI.

Chromium is Debian's package at /usr/bin/chromium (Playwright's own browser download is never
used). When it is missing, the session installs it with apt-get if it runs as root; otherwise,
or when that fails, the browser tests are skipped with the reason.

The stack: a seeded sandbox church over HTTP, the church's own overlapping dataset in a fresh
church database, a fresh Dagster storage database on the same server, and `dg dev` (webserver +
daemon) on a free loopback port in its own process group, stopped with the test.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from pco_pipeline.commands.ui import start_dagster_dev
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


@pytest.fixture
def sandbox_url(sandbox: Sandbox, church) -> Iterator[str]:
    """The sandbox over HTTP, with the church loaded before the UI's runs read it."""
    with run_sandbox_server(sandbox) as base_url:
        yield base_url


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
    """Ctrl-C to dg dev and everything it started (webserver, daemon, code server, run workers);
    whatever still runs after 5 s is killed (a clean shutdown takes dg dev some 20 s, and the test
    drops its databases anyway)."""
    for sig, wait in ((signal.SIGINT, 5), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(1)  # let the children that got the same signal finish before the final sweep
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def dagster_env() -> dict[str, str]:
    """Settings added to the environment `dg dev` runs in (a test module overrides this fixture)."""
    return {}


@pytest.fixture
def dagster_ui(tmp_path: Path, database_url: str, empty_database_url: str, sandbox_url: str,
               dagster_env: dict[str, str]) -> Iterator[str]:
    """`dg dev` on the project's workspace, with its own instance and `dagster_env`; yields the UI's base URL."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    dagster_storage = make_url(empty_database_url).set(drivername="postgresql+psycopg2")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PCO_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(home), DAGSTER_PG_URL=dagster_storage.render_as_string(hide_password=False),
               DATABASE_URL=database_url, PCO_API_BASE=sandbox_url, PCO_APP_ID=DEMO_APP_ID, PCO_SECRET=DEMO_SECRET,
               # the nightly schedule runs by default: keep its tick out of the test (29 February only)
               PCO_NIGHTLY_CRON="0 3 29 2 *")
    env.update(dagster_env)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "dg-dev.log"
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
def dagster_log(tmp_path: Path):
    """A function returning the tail of dg dev's log, for failure messages."""
    return lambda: _log_tail(tmp_path / "dg-dev.log")
