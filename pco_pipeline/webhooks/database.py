"""The receiver's connections to the church database, and describing failures without leaking data.

Two pools, one per kind of work:
- `ConnectionPool`: psycopg async connections used on the event loop itself, for the webhook
  insert (the receiver's only I/O and its hot path) and the health check. Staying on the loop
  avoids a thread hop and GIL hand-offs per delivery, which cost more than the insert itself
  under load (bench/bench_receiver.py).
- `make_engine`: a SQLAlchemy engine for the read-only listings, run in the thread pool. It
  hides bound parameters from SQLAlchemy's logs and error messages (defence in depth: with
  `-v`, SQLAlchemy would otherwise log every value it sends).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa

from pco_pipeline.db.resolve import with_driver

POOL_SIZE = 10
POOL_TIMEOUT_SECONDS = 10.0
CONNECT_TIMEOUT_SECONDS = 5
APPLICATION_NAME = "pco_pipeline_webhooks"

T = TypeVar("T")


def make_engine(database_url: str) -> sa.Engine:
    """A pooled psycopg engine for `database_url` that never logs or reports bound parameters."""
    return sa.create_engine(
        with_driver(database_url, "psycopg"),
        hide_parameters=True,
        pool_pre_ping=True,  # a server restart leaves dead pooled connections behind
        pool_size=5,
        max_overflow=5,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": APPLICATION_NAME},
    )


def connect_arguments(database_url: str) -> dict[str, Any]:
    """psycopg connect() keyword arguments for a SQLAlchemy URL (host, socket dir, password, options)."""
    url = with_driver(database_url, "psycopg")
    _, connect_params = sa.create_engine(url, poolclass=sa.pool.NullPool).dialect.create_connect_args(url)
    params = dict(connect_params)
    params.pop("context", None)  # SQLAlchemy's adapter map; the async connections use psycopg's own
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    params.setdefault("application_name", APPLICATION_NAME)
    return params


class ConnectionPool:
    """At most `size` psycopg AsyncConnections, opened on demand and reused.

    Connections are in autocommit mode: each statement is its own transaction, committed in
    the same round trip. A connection whose work raised, or that was left inside an explicit
    transaction, is closed rather than reused; `run` retries work once on a fresh connection
    after a connection failure, which absorbs a database restart. Waiting longer than
    `timeout` for a free connection raises TimeoutError. A pool serves one event loop.
    """

    def __init__(self, database_url: str, *, size: int = POOL_SIZE, timeout: float = POOL_TIMEOUT_SECONDS) -> None:
        self._connect_args = {**connect_arguments(database_url), "autocommit": True}
        self._idle: list[psycopg.AsyncConnection] = []
        self._slots = asyncio.Semaphore(size)
        self._timeout = timeout
        self._closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        """An autocommit connection for one unit of work."""
        async with asyncio.timeout(self._timeout):
            await self._slots.acquire()
        try:
            conn = self._idle.pop() if self._idle else await psycopg.AsyncConnection.connect(**self._connect_args)
            try:
                yield conn
            except BaseException:
                await self._discard(conn)
                raise
            await self._give_back(conn)
        finally:
            self._slots.release()

    async def run(self, work: Callable[[psycopg.AsyncConnection], Awaitable[T]]) -> T:
        """`work` on a pooled connection; if the connection fails, once more on a fresh one.

        A failed connection usually means the server restarted, which leaves every idle
        connection dead, so they are all dropped before the retry. `work` must be safe to
        repeat (it may have committed before the failure was seen). Raises psycopg.Error or
        TimeoutError when the retry fails too.
        """
        try:
            async with self.connection() as conn:
                return await work(conn)
        except psycopg.OperationalError:
            while self._idle:
                await self._discard(self._idle.pop())
        async with self.connection() as conn:
            return await work(conn)

    async def _give_back(self, conn: psycopg.AsyncConnection) -> None:
        if self._closed or conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            await self._discard(conn)
        else:
            self._idle.append(conn)

    @staticmethod
    async def _discard(conn: psycopg.AsyncConnection) -> None:
        try:
            await conn.close()
        except Exception:  # already broken: nothing left to release
            pass

    async def close(self) -> None:
        """Close the idle connections; connections in use are closed when given back."""
        self._closed = True
        while self._idle:
            await self._discard(self._idle.pop())


def describe_failure(exc: BaseException | None) -> str:
    """One line naming a database failure, safe to log.

    A server-side error is named by class and SQLSTATE only, because its message can quote a
    value it was given; a connection failure (no SQLSTATE) carries the driver's first line,
    which names host and port but no data and no password.
    """
    if exc is None:
        return "unknown failure"
    original = getattr(exc, "orig", None) or exc
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate:
        return f"{type(original).__name__} (SQLSTATE {sqlstate})"
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0]}" if lines else type(original).__name__
