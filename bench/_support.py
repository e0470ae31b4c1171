"""What several benchmarks share: a free loopback port, the sandbox in its own process, fresh
databases on the benchmarks' embedded PostgreSQL, a benchmark's worker process, medians.

Not a benchmark itself: `python -m bench` runs only the modules named bench_*.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import sqlalchemy as sa

from pco_pipeline.db import embedded
from pco_pipeline.db.errors import MigrationError
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.paths import project_root, state_dir


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sandbox(python_args: Sequence[str], port: int, timeout_s: float) -> subprocess.Popen:
    """Run `python <python_args>` (a sandbox serving on `port`) from the project root and return the
    process once it answers on /_sandbox; RuntimeError with its stderr's tail if it exits first, or
    if it does not answer within `timeout_s` (it is killed then)."""
    command = [sys.executable, *python_args]
    process = subprocess.Popen(command, cwd=project_root(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited: {process.communicate()[1].decode()[-2000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/_sandbox", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"sandbox did not start within {timeout_s:g} s")


# --- the benchmarks' embedded PostgreSQL -------------------------------------------------------------

def pgdata() -> Path:
    """The benchmarks' own embedded server's data directory, apart from the church database the CLI uses."""
    return state_dir() / "bench-pgdata"


def server_url(database: str) -> str:
    """The URL of `database` on the benchmarks' embedded server, started if it is not running."""
    return embedded.ensure_running(pgdata()).url(database)


def _admin() -> sa.Engine:
    return sa.create_engine(server_url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def fresh_database(name: str, template: str | None = None) -> str:
    """Drop and re-create database `name` on the benchmarks' server, migrated; returns its URL.

    With `template`, that database is created (once) and migrated, and `name` is copied from it:
    faster than migrating each fresh database when a benchmark makes many.
    """
    admin = _admin()
    if template is not None:
        with admin.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": template}).first()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{template}"')
        try:
            _migrate(server_url(template))
        except MigrationError:
            # The template is only a cache: one migrated from a migration file since edited
            # (during development) is made again rather than failing every benchmark.
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE "{template}" WITH (FORCE)')
                conn.exec_driver_sql(f'CREATE DATABASE "{template}"')
            _migrate(server_url(template))
    admin.dispose()
    url = empty_database(name, template)
    if template is None:
        _migrate(url)
    return url


def empty_database(name: str, template: str | None = None) -> str:
    """Drop and re-create database `name` on the benchmarks' server, not migrated (a copy of
    `template` if given); returns its URL."""
    admin = _admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    admin.dispose()
    return server_url(name)


def _migrate(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    apply_migrations(engine)
    engine.dispose()


def drop_database(name: str) -> None:
    """Drop database `name` from the benchmarks' server (connections to it are ended)."""
    admin = _admin()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


# --- worker processes and medians --------------------------------------------------------------------

def sized_runs_arguments(prog: str, default_sizes: Sequence[int], argv: list[str] | None) -> argparse.Namespace:
    """The command line of a benchmark measured at several sizes, each run in a worker process:
    --sizes, --runs (default 3) and the hidden --worker SIZE that run_worker passes."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(default_sizes))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv if argv is not None else [])


def run_worker(module: str, size: int) -> dict:
    """Run `python -m bench.<module> --worker <size>` in a fresh process (so its peak RSS is its own)
    and return the JSON object it prints last; RuntimeError with its stderr's tail if it fails."""
    completed = subprocess.run([sys.executable, "-m", f"bench.{module}", "--worker", str(size)],
                               cwd=project_root(), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark worker {module} for {size} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def median_of(runs: Sequence[Mapping], key: str) -> float:
    """The median of `key` over runs reported as mappings."""
    return statistics.median(run[key] for run in runs)


# --- the webhook receiver ---------------------------------------------------------------------------

def start_receiver(database_url: str, log_path: Path, secrets: Sequence[str], port: int = 0
                   ) -> tuple[subprocess.Popen, str]:
    """`pco-pipeline webhooks serve` on `port` (0: any free one) over `database_url`, accepting
    `secrets` besides those stored by `webhooks subscribe`, its output in `log_path`; returns the
    process and its base URL once /healthz answers 200, else RuntimeError with the log's tail."""
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_PG_URL", "PCO_WEBHOOK_MAX_BODY_BYTES")}
    env.update({"DATABASE_URL": database_url, "PCO_WEBHOOK_SECRETS": ",".join(secrets)})
    log = open(log_path, "w")
    process = subprocess.Popen([sys.executable, "-m", "pco_pipeline.cli", "webhooks", "serve", "--port", str(port)],
                               cwd=project_root(), env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"listening on (http://[^\s:]+:\d+)", log_path.read_text())
        if match:
            try:
                if httpx.get(f"{match.group(1)}/healthz", timeout=2).status_code == 200:
                    return process, match.group(1)
            except httpx.TransportError:
                pass
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the receiver did not start:\n{log_path.read_text()[-2000:]}")
