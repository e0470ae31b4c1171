"""Shared fixtures: every test gets its own fresh, migrated database on a real PostgreSQL.

The server is the embedded one (data under `.pco_pipeline/test-pgdata`), or the server of
PCO_TEST_DATABASE_URL when set. A template database is migrated once per test session (per
xdist worker); each test's database is a cheap `CREATE DATABASE … TEMPLATE` copy of it. The test
databases commit without waiting for the WAL to reach the disk (`synchronous_commit = off`): what
a transaction commits is seen by every other session all the same, and only a crash of the
server, which no test causes on this one, could lose it; waiting took 2–3× as long per commit.

Under xdist (`make test`: `-n 2`), the tests marked `slow` run first and the workers steal from
each other (see the two hooks below): the run ends on quick tests, with both workers busy.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from pco_pipeline.db import embedded
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.db.resolve import with_driver
from pco_pipeline.paths import state_dir

_counter = itertools.count()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tests first, otherwise in collection order (a stable sort: every xdist worker must
    collect the same order). A long test started last keeps one worker busy after the other has
    run out of tests; started first, it runs while the other worker takes the quick ones."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist load`, which `-n N` alone means, schedules by work stealing instead: a worker that runs
    out of tests takes half of what the other still has queued, so neither idles while tests are
    left (`load` hands out fixed batches, and would leave the slow tests, all first, to one worker).
    Any other `--dist` (loadscope, loadgroup, …) is kept."""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import WorkStealingScheduling

    return WorkStealingScheduling(config, log)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def pg_server_url() -> URL:
    """A URL to the maintenance database of the test server."""
    explicit = os.environ.get("PCO_TEST_DATABASE_URL")
    if explicit:
        return with_driver(explicit, "psycopg").set(database="postgres")
    server = embedded.ensure_running(state_dir() / "test-pgdata")
    return make_url(server.url("postgres"))


def _admin_engine(server_url: URL) -> sa.Engine:
    return sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def create_test_database(conn: sa.Connection, name: str, template: str | None = None) -> None:
    """Create the test database `name` (a copy of `template` if given), committing asynchronously."""
    conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


@pytest.fixture(scope="session")
def template_database(pg_server_url: URL) -> Iterator[str]:
    """Name of a freshly migrated template database for this test session."""
    name = f"pco_template_{_worker()}_{os.getpid()}"  # concurrent sessions must not share one
    admin = _admin_engine(pg_server_url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        create_test_database(conn, name)
    engine = sa.create_engine(pg_server_url.set(database=name), poolclass=sa.pool.NullPool)
    apply_migrations(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def empty_database_url(pg_server_url: URL) -> Iterator[str]:
    """A URL to a brand-new database with nothing in it (not even migrations)."""
    name = f"pco_test_{_worker()}_{os.getpid()}_{next(_counter)}"
    admin = _admin_engine(pg_server_url)
    with admin.connect() as conn:
        create_test_database(conn, name)
    yield pg_server_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def database_url(pg_server_url: URL, template_database: str) -> Iterator[str]:
    """A URL to this test's own database: migrated, empty, dropped afterwards."""
    name = f"pco_test_{_worker()}_{os.getpid()}_{next(_counter)}"
    admin = _admin_engine(pg_server_url)
    with admin.connect() as conn:
        create_test_database(conn, name, template_database)
    yield pg_server_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """An engine on this test's own migrated database."""
    eng = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    yield eng
    eng.dispose()
