"""`pco-pipeline ui`: the Dagster UI and daemon (`dg dev`) on the persistent instance.

The database is resolved as for every command (DATABASE_URL, else the embedded server), and
Dagster gets DAGSTER_HOME / DAGSTER_PG_URL (launch.prepare_environment). Then, for PCO:

* PCO settings configured (PCO_API_BASE, PCO_APP_ID, PCO_OAUTH_… in the environment or in the
  checkout's `.env`): they are passed through to Dagster as they are;
* none configured, but `make demo` left a sandbox church in `.pco_pipeline/sandbox/`: that church
  is served as PCO on loopback for as long as the UI runs (saved back to its file when changed),
  with the webhook receiver its subscriptions deliver to, so jobs launched from the UI and the
  webhook sensor have a PCO to talk to;
* neither: the UI starts anyway, and says what to set.

Beside them, in this process, the staff console (`pco-pipeline console`) on `--console-port`
(8789; `--no-console` leaves it out), launching runs through this UI's webserver; its *Test
connection* reads the same PCO settings Dagster gets (`.env` winning, as in Dagster).

`dg dev` runs in the checkout, where it loads `.env` over the environment (Dagster's rule).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pco_pipeline.commands.console import DEFAULT_PORT as CONSOLE_PORT
from pco_pipeline.runs.launch import prepare_environment
from pco_pipeline.paths import project_root, state_dir
from pco_pipeline.pco.config import DEFAULT_BASE_URL as DEFAULT_PCO_BASE
from pco_sandbox.persistence import SnapshotError

# The demo's pace (PCO's 100 requests / 20 s, ten times faster), so runs from the UI feel the same.
SANDBOX_RATE_LIMIT = "100/2s"


def register(subparsers) -> None:
    ui = subparsers.add_parser(
        "ui", help="start the Dagster UI and daemon (schedules, sensors)",
        description="Start `dg dev` (webserver + daemon) on the persistent Dagster instance. Without PCO "
                    "settings, serves the sandbox church `make demo` kept, so jobs have a PCO to talk to.")
    ui.add_argument("--port", type=int, default=3000, help="port of the UI (default 3000)")
    ui.add_argument("--host", default="127.0.0.1", help="address of the UI (default 127.0.0.1)")
    sandbox = ui.add_mutually_exclusive_group()
    sandbox.add_argument("--sandbox", type=Path, metavar="STATE_FILE", default=None,
                         help="serve this sandbox church as PCO (default: the newest one `make demo` kept, "
                              "when no PCO settings are configured)")
    sandbox.add_argument("--no-sandbox", action="store_true", help="never serve a sandbox church")
    ui.add_argument("--console-port", type=int, default=CONSOLE_PORT,
                    help=f"port of the staff console, on the UI's address (default {CONSOLE_PORT})")
    ui.add_argument("--no-console", action="store_true", help="do not start the staff console")
    ui.set_defaults(handler=run_ui)


def dagster_dev_command(host: str, port: int) -> list[str]:
    """`dg dev` on the project's workspace (absolute paths: the working directory does not matter)."""
    dg = Path(sys.executable).with_name("dg")
    return [str(dg), "dev", "--workspace", str(project_root() / "workspace.yaml"), "--host", host,
            "--port", str(port)]


def start_dagster_dev(host: str, port: int, *, cwd: Path, env: Mapping[str, str],
                      **popen: Any) -> subprocess.Popen:
    """`dg dev` as a child process that SIGINT stops (dg dev maps SIGTERM to the same), even when this
    process runs as a background job, whose children would otherwise inherit SIGINT ignored."""
    return subprocess.Popen(dagster_dev_command(host, port), cwd=cwd, env=dict(env), preexec_fn=_heed_ctrl_c,
                            **popen)


def _heed_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def configured_pco_settings(environ: Mapping[str, str], dotenv: Mapping[str, str | None]) -> dict[str, str]:
    """PCO setting → where it is set ("environment" or ".env"; `.env` wins inside Dagster)."""
    from pco_pipeline.defs.pco.resources import ENVIRONMENT  # every variable the `pco` resource reads

    found = {name: "environment" for name in ENVIRONMENT.values() if environ.get(name, "").strip()}
    found.update({name: ".env" for name in ENVIRONMENT.values() if (dotenv.get(name) or "").strip()})
    return found


def shadowed_by_dotenv(environ: Mapping[str, str], dotenv: Mapping[str, str | None]) -> list[str]:
    """Variables set in the environment that `.env` overrides with another value inside Dagster."""
    return sorted(name for name, value in dotenv.items()
                  if value is not None and name in environ and environ[name] != value)


def newest_sandbox_state(directory: Path) -> Path | None:
    """The most recently saved sandbox church in `directory` (`make demo` keeps one per people/seed)."""
    states = [path for path in directory.glob("*.json") if path.is_file()] if directory.is_dir() else []
    return max(states, key=lambda path: path.stat().st_mtime, default=None)


def run_ui(args) -> int:
    problem = _check(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    target = prepare_environment()
    print(f"church database: {target.display_url()} ({target.source})")
    dotenv = _checkout_dotenv()
    for name in shadowed_by_dotenv(os.environ, dotenv):
        print(f"note: {name} is set both in the environment and in {project_root() / '.env'}; "
              f"Dagster uses the .env value")
    configured = configured_pco_settings(os.environ, dotenv)
    state = None if args.no_sandbox else args.sandbox
    if state is None and not args.no_sandbox and not configured:
        state = newest_sandbox_state(state_dir() / "sandbox")
    from_dotenv = sorted(name for name, source in configured.items() if source == ".env")
    if state is not None and from_dotenv:
        print(f"error: {project_root() / '.env'} sets {', '.join(from_dotenv)}, which Dagster would use instead "
              f"of the sandbox church: remove them there, or leave out --sandbox", file=sys.stderr)
        return 2
    try:
        with ExitStack() as stack:
            if state is not None:
                try:
                    stack.enter_context(_serve_sandbox(state, target.url))
                except SnapshotError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
            elif configured:
                base = os.environ.get("PCO_API_BASE") or dotenv.get("PCO_API_BASE") or DEFAULT_PCO_BASE
                sources = " and ".join(sorted(set(configured.values())))
                print(f"PCO: {base} (settings from {sources}: {', '.join(sorted(configured))})")
            else:
                print("PCO: no settings and no sandbox church: jobs that call PCO will fail until you set "
                      "PCO_APP_ID and PCO_SECRET (see README), or run `make demo` once for a sandbox church")
            if not args.no_console:
                stack.enter_context(_serve_console(args, target.url, dotenv))
            print(f"Dagster UI: http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
            return _run_until_stopped(args.host, args.port)
    except SnapshotError as exc:  # the sandbox church's last save
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _check(args) -> str | None:
    if not 0 < args.port < 65536:
        return "--port must be between 1 and 65535"
    if not args.no_console and not 0 < args.console_port < 65536:
        return "--console-port must be between 1 and 65535"
    if not args.no_console and args.console_port == args.port:
        return "--console-port must differ from --port"
    if args.sandbox is not None and not args.sandbox.is_file():
        return f"--sandbox: no sandbox state file at {args.sandbox}"
    if not Path(sys.executable).with_name("dg").exists():
        return f"`dg` is not installed beside {sys.executable} (pip install -e . installs dagster-dg-cli)"
    try:
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as exc:
        return f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc} (choose another --port)"
    return None


def _checkout_dotenv() -> dict[str, str | None]:
    from dotenv import dotenv_values  # python-dotenv: a dependency of dagster

    env_file = project_root() / ".env"
    return dict(dotenv_values(env_file)) if env_file.exists() else {}


@contextmanager
def _serve_sandbox(state: Path, database_url: str) -> Iterator[None]:
    """Serve the sandbox church kept in `state` as PCO (and the receiver it delivers webhooks to)."""
    from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
    from pco_sandbox.core import Sandbox, SandboxConfig
    from pco_sandbox.persistence import autosave
    from pco_sandbox.server import run_sandbox_server

    sandbox = Sandbox.open(state, config=SandboxConfig(app_id=DEMO_APP_ID, secret=DEMO_SECRET,
                                                       rate_limit=SANDBOX_RATE_LIMIT))
    with sandbox, run_sandbox_server(sandbox) as base_url, autosave(sandbox, state):
        os.environ.update(PCO_API_BASE=base_url, PCO_APP_ID=DEMO_APP_ID, PCO_SECRET=DEMO_SECRET)
        print(f"PCO: the sandbox church in {state} at {base_url} "
              f"({sandbox.store.count('people/people')} people, limit {SANDBOX_RATE_LIMIT}; saved when changed)")
        with _receiver_for(sandbox, database_url):
            yield


@contextmanager
def _receiver_for(sandbox, database_url: str) -> Iterator[None]:
    """The webhook receiver on the loopback port the sandbox's subscriptions deliver to, if any."""
    ports = {urlparse(s.attributes["url"]).port for s in sandbox.store.all("webhooks/subscriptions")
             if urlparse(s.attributes["url"]).hostname in ("127.0.0.1", "localhost")}
    if len(ports) != 1 or None in ports:
        yield
        return
    from pco_pipeline.db.engine import get_engine
    from pco_pipeline.db.migrations import apply_migrations
    from pco_pipeline.webhooks.app import create_app
    from pco_pipeline.webhooks.server import BackgroundServer
    from pco_pipeline.webhooks.settings import ReceiverSettings
    from pco_pipeline.webhooks.subscriptions import stored_secrets

    engine = get_engine(database_url)
    apply_migrations(engine)
    (port,) = ports
    try:
        receiver = BackgroundServer(create_app(database_url, ReceiverSettings(secrets=stored_secrets(engine))),
                                    port=port).start()
    except OSError as exc:
        print(f"note: webhook receiver not started on port {port} ({exc.strerror or exc}); the sandbox "
              f"retries its deliveries until one is listening there")
        yield
        return
    print(f"webhook receiver: {receiver.url} (the webhook sensor applies what arrives)")
    try:
        yield
    finally:
        receiver.stop()


@contextmanager
def _serve_console(args, database_url: str, dotenv: Mapping[str, str | None]) -> Iterator[None]:
    """The staff console on the UI's address and `--console-port`, while the UI runs. A port in use
    or a wrong console setting is one line, and the UI starts without it."""
    from dataclasses import replace

    from pco_pipeline.console.app import create_console_app
    from pco_pipeline.console.settings import ConsoleSettingsError, load_settings
    from pco_pipeline.db.engine import get_engine
    from pco_pipeline.db.migrations import apply_migrations
    from pco_pipeline.pco.connection import check_connection
    from pco_pipeline.webhooks.server import BackgroundServer

    try:
        settings = replace(load_settings(), dagster_url=f"http://{args.host}:{args.port}")
    except ConsoleSettingsError as exc:
        print(f"note: staff console not started: {exc}")
        yield
        return
    apply_migrations(get_engine(database_url))
    pco_settings = {name: value for name, value in dotenv.items() if value is not None}
    app = create_console_app(database_url, settings, check=lambda: check_connection({**os.environ, **pco_settings}))
    try:
        console = BackgroundServer(app, host=args.host, port=args.console_port).start()
    except OSError as exc:
        print(f"note: staff console not started on port {args.console_port} ({exc.strerror or exc}); "
              "choose another --console-port")
        yield
        return
    print(f"staff console: {console.url}  (sign in with a user of `pco-pipeline users add`)")
    try:
        yield
    finally:
        console.stop()


def _run_until_stopped(host: str, port: int) -> int:
    """Run `dg dev` until it exits. Ctrl-C reaches it too (same process group) and it shuts its
    webserver and daemon down: wait for that (a second Ctrl-C kills it). SIGTERM is passed on to it as
    a Ctrl-C, so the sandbox church is still saved afterwards."""
    process = start_dagster_dev(host, port, cwd=project_root(), env=os.environ)
    restore = _forward_sigterm(process)
    try:
        try:
            return process.wait()
        except KeyboardInterrupt:  # dg dev got the same Ctrl-C and is stopping its services
            try:
                return process.wait()
            except KeyboardInterrupt:  # a second Ctrl-C: don't wait any longer
                process.kill()
                return process.wait()
    finally:
        restore()


def _forward_sigterm(process: subprocess.Popen):
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def forward(signum, frame):
        process.send_signal(signal.SIGINT)

    previous = signal.signal(signal.SIGTERM, forward)
    return lambda: signal.signal(signal.SIGTERM, previous)
