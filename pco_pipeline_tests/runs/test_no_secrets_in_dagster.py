"""No password or token in any log, output, run record or error (issue 13), searched where staff
and Dagster keep them: every row of Dagster's storage (event log, runs, tags, …) and of the
church database (pco_sync_log, sync_quarantine, …), every file under the Dagster home (compute
logs) and the state directory, and everything the commands printed.

Each secret is distinctive (so a hit is a leak, not a coincidence): the PCO credential, also in
the Basic-auth form it is sent in, a wrong one that makes a run fail, a webhook secret, the
database password in both database URLs, a staff password and an API token.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from pco_pipeline.accounts.tokens import TOKEN_PATTERN, TOKEN_PREFIX
from pco_pipeline_tests.outbound.conftest import add_person
from pco_pipeline_tests.runs.conftest import CLI, ROOT, Sandbox, cli_environment
from pco_pipeline_tests.sandbox_fixtures import demo_sandbox, seed_church

APP_ID = "leakcheck-app-id-5c1f"
PCO_SECRET = "leakcheck-pco-secret-8d2e7a"
WRONG_PCO_SECRET = "leakcheck-wrong-secret-3b9c41"
WEBHOOK_SECRET = "leakcheck-webhook-secret-71f0aa"
DATABASE_PASSWORD = "leakcheck-db-password-e4a2"
USER_PASSWORD = "leakcheck-user-password-9f6d"


def basic_auth(app_id: str, secret: str) -> str:
    """The credential as PCO receives it: base64 of `app_id:secret` in an Authorization header."""
    return base64.b64encode(f"{app_id}:{secret}".encode()).decode()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """An empty sandbox organization accepting only APP_ID / PCO_SECRET (served by `sandbox_url`)."""
    box = demo_sandbox(app_id=APP_ID, secret=PCO_SECRET)
    yield box
    box.close()


@pytest.fixture
def password_role(pg_server_url, database_url: str, empty_database_url: str) -> Iterator[tuple[str, str]]:
    """The test's church database and a Dagster storage database, reached as a login role with a
    password: (church URL, Dagster URL), both holding DATABASE_PASSWORD."""
    role = f"leakcheck_{os.getpid()}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{DATABASE_PASSWORD}'")
    yield (make_url(database_url).set(username=role, password=DATABASE_PASSWORD)
           .render_as_string(hide_password=False),
           make_url(empty_database_url).set(drivername="postgresql+psycopg2", username=role, password=DATABASE_PASSWORD)
           .render_as_string(hide_password=False))
    for url in (database_url, empty_database_url):  # what the role created goes with its database
        owner = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with owner.connect() as conn:
            conn.exec_driver_sql(f"REASSIGN OWNED BY {role} TO CURRENT_USER")
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
        owner.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
    admin.dispose()


def rows_as_text(url: str) -> dict[str, list[str]]:
    """table → each of its rows as text (every column), for every table of the database at `url`."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            tables = conn.execute(sa.text(
                "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables"
                " WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"))
            return {table: list(conn.execute(sa.text(f"SELECT t::text FROM {table} AS t")).scalars())
                    for table in tables.scalars()}
    finally:
        engine.dispose()


def files_as_bytes(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()}


@pytest.mark.slow
def test_no_secret_reaches_dagster_the_database_the_files_or_the_output(tmp_path, engine, password_role, sandbox,
                                                                        sandbox_url):
    church_url, dagster_url = password_role
    seed_church(sandbox, people=80, engine=engine)  # the local side too: matches to quarantine
    with engine.begin() as conn:  # one person PCO lacks: the dry-run push plans to create them
        add_person(conn, "Leak", "Check", email="leak.check@example.org")
    outputs: list[tuple[str, str]] = []  # (what, text) of every command's stdout and stderr

    env = cli_environment(tmp_path, DATABASE_URL=church_url, DAGSTER_PG_URL=dagster_url,
                          PCO_API_BASE=sandbox_url, PCO_APP_ID=APP_ID, PCO_SECRET=PCO_SECRET,
                          PCO_WEBHOOK_SECRETS=f"other-subscription-secret,{WEBHOOK_SECRET}")

    def run(*args: str, stdin: str | None = None, **settings: str) -> subprocess.CompletedProcess:
        done = subprocess.run([*CLI, *args], cwd=ROOT, env={**env, **settings}, input=stdin,
                              capture_output=True, text=True, timeout=300)
        outputs.extend([(f"{' '.join(args)}: stdout", done.stdout), (f"{' '.join(args)}: stderr", done.stderr)])
        return done

    added = run("users", "add", "leakcheck", "--role", "admin", "--password-stdin", stdin=USER_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    created = run("tokens", "create", "leakcheck", "--role", "viewer")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert TOKEN_PATTERN.fullmatch(token)
    outputs.pop(-2)  # the one place the token belongs: create's standard output, alone

    synced = run("sync", "people")
    assert synced.returncode == 0, synced.stdout[-2000:] + synced.stderr[-3000:]
    pushed = run("push", "people", "--dry-run")
    assert pushed.returncode == 0, pushed.stdout[-2000:] + pushed.stderr[-3000:]
    # With -v: debug logging and the traceback, as staff would run it to see why.
    refused = run("-v", "sync", "people", PCO_SECRET=WRONG_PCO_SECRET)
    assert refused.returncode != 0
    assert "401" in refused.stdout + refused.stderr  # the error path ran, and says why
    assert "DEBUG " in refused.stderr
    for command in (["history"], ["runs"], ["webhooks", "status"]):
        listed = run(*command)
        assert listed.returncode == 0, listed.stderr
    assert "webhook secrets: 0 stored, 2 in PCO_WEBHOOK_SECRETS" in listed.stdout  # it read them

    secrets = {
        "PCO secret": PCO_SECRET, "PCO Basic credential": basic_auth(APP_ID, PCO_SECRET),
        "wrong PCO secret": WRONG_PCO_SECRET, "wrong PCO Basic credential": basic_auth(APP_ID, WRONG_PCO_SECRET),
        "webhook secret": WEBHOOK_SECRET, "database password": DATABASE_PASSWORD,
        "user password": USER_PASSWORD, "API token": token, "API token without its prefix": token[len(TOKEN_PREFIX):],
    }
    dagster_rows = rows_as_text(dagster_url)
    church_rows = rows_as_text(church_url)
    files = files_as_bytes(tmp_path)
    leaks = [f"{secret_name} in Dagster's {table}" for table, rows in dagster_rows.items() for row in rows
             for secret_name, secret in secrets.items() if secret in row]
    leaks += [f"{secret_name} in the church database's {table}" for table, rows in church_rows.items() for row in rows
              for secret_name, secret in secrets.items() if secret in row]
    leaks += [f"{secret_name} in the file {name}" for name, content in files.items()
              for secret_name, secret in secrets.items() if secret.encode() in content]
    leaks += [f"{secret_name} in {what}" for what, text in outputs
              for secret_name, secret in secrets.items() if secret in text]
    assert not leaks, "\n".join(sorted(set(leaks)))
    # What was searched holds what the runs did: their events, their log rows (the refused one
    # with its error), their quarantine, the compute logs of their steps.
    assert len(dagster_rows["public.runs"]) >= 3 and len(dagster_rows["public.event_logs"]) > 50
    assert any("failed" in row and "401" in row for row in church_rows["public.pco_sync_log"])
    assert church_rows["public.sync_quarantine"]
    assert any(name.startswith("dagster_home/storage/") and "/compute_logs/" in name for name in files), sorted(files)

