"""Which PostgreSQL the project talks to: `DATABASE_URL`, or the embedded server.

Dagster's own instance storage lives on the same server in a separate database and must use
the psycopg2 driver: with psycopg 3 installed, SQLAlchemy maps a bare `postgresql://` URL to
psycopg 3 and dagster-postgres then fails on every event write.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ProgrammingError, SQLAlchemyError

from pco_pipeline.db import embedded
from pco_pipeline.db.errors import DatabaseConfigError
from pco_pipeline.paths import state_dir

APP_DATABASE = "pco_pipeline"
DAGSTER_DATABASE = "dagster"


@dataclass(frozen=True)
class DatabaseTarget:
    """The church database URL (psycopg 3), Dagster's storage URL (psycopg2), and their origin."""

    url: str
    dagster_url: str
    source: str  # "DATABASE_URL" or "embedded"

    def display_url(self) -> str:
        return redact(self.url)


def redact(url: str) -> str:
    """The URL with its password masked: safe for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def with_driver(url: str | URL, driver: str) -> URL:
    """`url` with the SQLAlchemy dialect forced to postgresql+`driver`."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise DatabaseConfigError(
            f"DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host:5432/db), "
            f"got a {parsed.get_backend_name()!r} URL")
    return parsed.set(drivername=f"postgresql+{driver}")


def resolve_database() -> DatabaseTarget:
    """Resolve the database, starting the embedded server when `DATABASE_URL` is unset.

    The church database and Dagster's database are created when missing. Raises
    DatabaseConfigError naming the setting when the server cannot be reached.
    """
    explicit = os.environ.get("DATABASE_URL", "").strip()
    if explicit:
        try:
            app_url = with_driver(explicit, "psycopg")
        except DatabaseConfigError:
            raise
        except Exception as exc:
            raise DatabaseConfigError(f"DATABASE_URL is not a valid database URL: {exc}") from None
        dagster_env = os.environ.get("DAGSTER_PG_URL", "").strip()
        dagster_url = (with_driver(dagster_env, "psycopg2") if dagster_env
                       else app_url.set(database=DAGSTER_DATABASE, drivername="postgresql+psycopg2"))
        _check_reachable(app_url, "DATABASE_URL")
        if not dagster_env:
            _ensure_database(app_url, DAGSTER_DATABASE, setting="DATABASE_URL")
        return DatabaseTarget(
            url=app_url.render_as_string(hide_password=False),
            dagster_url=dagster_url.render_as_string(hide_password=False),
            source="DATABASE_URL",
        )

    server = embedded.ensure_running(state_dir() / "pgdata")
    admin = make_url(server.url("postgres"))
    for name in (APP_DATABASE, DAGSTER_DATABASE):
        _ensure_database(admin, name, setting="the embedded database")
    return DatabaseTarget(
        url=server.url(APP_DATABASE),
        dagster_url=server.url(DAGSTER_DATABASE, driver="psycopg2"),
        source="embedded",
    )


def _check_reachable(url: URL, setting: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        raise DatabaseConfigError(f"{setting}: cannot connect to {redact(url.render_as_string(False))}: "
                                  f"{server_message(exc)}") from None
    finally:
        engine.dispose()


def _ensure_database(server_url: URL, name: str, *, setting: str) -> None:
    """CREATE DATABASE `name` on the server of `server_url` unless it exists (race-safe)."""
    admin = server_url.set(database="postgres")
    engine = sa.create_engine(admin, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT",
                              connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as conn:
            exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if not exists:
                try:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                except ProgrammingError as exc:
                    if "already exists" not in str(exc):  # another process won the race
                        raise
    except SQLAlchemyError as exc:
        raise DatabaseConfigError(f"{setting}: cannot create database {name!r}: {server_message(exc)}") from None
    finally:
        engine.dispose()


def server_message(exc: BaseException) -> str:
    """The server's own words, one line, without SQLAlchemy's boilerplate."""
    original = getattr(exc, "orig", None) or exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__
