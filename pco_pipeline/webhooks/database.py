"""The receiver's connection pool, and describing database failures without leaking data.

The engine hides bound parameters from SQLAlchemy's logging and error messages: a delivery's raw
body is a bound parameter, and a payload must never reach a log, even with `-v`.
"""

from __future__ import annotations

import sqlalchemy as sa

from pco_pipeline.db.resolve import with_driver

# Sized for a burst: uvicorn's thread pool runs up to 40 writes at once; the rest queue for a
# connection rather than opening more than the server should hold for one receiver.
POOL_SIZE = 10
MAX_OVERFLOW = 10
POOL_TIMEOUT_SECONDS = 10
CONNECT_TIMEOUT_SECONDS = 5


def make_engine(database_url: str) -> sa.Engine:
    """A pooled psycopg engine for `database_url` that never logs or reports bound parameters."""
    return sa.create_engine(
        with_driver(database_url, "psycopg"),
        hide_parameters=True,
        pool_pre_ping=True,  # a server restart leaves dead pooled connections behind
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "pco_pipeline_webhooks"},
    )


def describe_failure(exc: BaseException) -> str:
    """One line naming a database failure, safe to log.

    A server-side error is named by class and SQLSTATE only, because its message can quote a
    value it was given; a connection failure (no SQLSTATE) carries the driver's first line,
    which names host and port but no data and no password.
    """
    original = getattr(exc, "orig", None) or exc
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate:
        return f"{type(original).__name__} (SQLSTATE {sqlstate})"
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0]}" if lines else type(original).__name__
