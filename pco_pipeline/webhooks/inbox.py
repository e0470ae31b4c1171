"""Writing deliveries into `webhook_inbox`, each exactly once, and keeping the authentic bodies
the pipeline cannot use in `webhook_rejections`.

`ON CONFLICT DO NOTHING` without a target covers both unique indexes (delivery id, and
idempotency token when present), so a retried or redelivered event is absorbed by the database
itself, also when two copies arrive at the same moment on different connections. The same
property makes retrying a write whose outcome is unknown safe.

A failed write is one of two things, and they must not be confused: the database is not there
(InboxUnavailable: PCO should retry later) or it refused the delivery's own values
(DeliveryRefused: a retry of the same body could never succeed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import LiteralString

import psycopg

from pco_pipeline.db.refusals import refuses_values
from pco_pipeline.webhooks.database import ConnectionPool, describe_failure
from pco_pipeline.webhooks.envelope import Delivery

COLUMNS: tuple[LiteralString, ...] = ("event_name", "delivery_id", "attempt", "idempotency_token", "event_time",
           "resource_type", "resource_id", "raw_body")


class InboxUnavailable(Exception):
    """The inbox could not be written (the database is down, full, or busy); nothing was stored.

    The cause is chained; describe it with webhooks.database.describe_failure, never str() it
    whole, as a server error can quote the values it was given.
    """


class DeliveryRefused(Exception):
    """The database refused the delivery's own values; nothing was stored. `reason` names the
    failure (its kind and SQLSTATE), never a value."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _store_failure(exc: BaseException) -> DeliveryRefused | InboxUnavailable:
    if not refuses_values(exc):
        return InboxUnavailable()
    if isinstance(exc, UnicodeEncodeError):
        return DeliveryRefused("the database refused its values: a text value is not valid Unicode")
    return DeliveryRefused(f"the database refused its values: {describe_failure(exc)}")


@dataclass(frozen=True, slots=True)
class StoreResult:
    stored: list[str] = field(default_factory=list)      # delivery ids newly written
    duplicates: list[str] = field(default_factory=list)  # already held (same delivery id or idempotency token)


# The one place the project writes SQL for psycopg directly (`%s` placeholders) rather than
# through SQLAlchemy's `text()`: the receiver's insert runs on the event loop over the async pool
# of webhooks/database.py, its hot path (measured in bench/bench_receiver.py). Values are still
# bound parameters.
@lru_cache(maxsize=8)
def _insert_sql(rows: int) -> LiteralString:
    placeholders = "(" + ", ".join("%s" for _ in COLUMNS) + ")"
    return (f"INSERT INTO webhook_inbox ({', '.join(COLUMNS)}) VALUES {', '.join(placeholders for _ in range(rows))} "
            f"ON CONFLICT DO NOTHING RETURNING delivery_id")


async def store_deliveries(pool: ConnectionPool, deliveries: Sequence[Delivery], raw_body: bytes) -> StoreResult:
    """Insert `deliveries` (all from one request body) in one transaction; duplicates are skipped.

    Each row keeps the whole raw body: those are the bytes that were signed. Raises
    DeliveryRefused when the database refuses the values, InboxUnavailable when it cannot take
    the write.
    """
    parameters = [value for d in deliveries for value in (
        d.event_name, d.delivery_id, d.attempt, d.idempotency_token, d.event_time,
        d.resource_type, d.resource_id, raw_body)]

    async def insert(conn: psycopg.AsyncConnection) -> set[str]:
        # One statement on an autocommit connection: all rows commit together, in one round trip.
        cursor = await conn.execute(_insert_sql(len(deliveries)), parameters)
        return {row[0] for row in await cursor.fetchall()}

    try:
        inserted = await pool.run(insert)
    except (psycopg.Error, UnicodeEncodeError) as exc:
        raise _store_failure(exc) from exc
    except TimeoutError as exc:  # no free connection
        raise InboxUnavailable from exc

    result = StoreResult()
    for delivery in deliveries:
        if delivery.delivery_id in inserted:
            inserted.discard(delivery.delivery_id)  # a body repeating one id stored it once
            result.stored.append(delivery.delivery_id)
        else:
            result.duplicates.append(delivery.delivery_id)
    return result


_REJECTION_SQL = "INSERT INTO webhook_rejections (reason, raw_body) VALUES (%s, %s) ON CONFLICT DO NOTHING"


async def store_rejection(pool: ConnectionPool, raw_body: bytes, reason: str) -> None:
    """Keep an authentic body the pipeline cannot use, with why (the same bytes are kept once).

    `reason` must not quote the body. Raises InboxUnavailable when the database cannot take the
    write (it holds only bytes and our own text, so the database has nothing to refuse).
    """
    async def insert(conn: psycopg.AsyncConnection) -> None:
        await conn.execute(_REJECTION_SQL, (reason, raw_body))

    try:
        await pool.run(insert)
    except (psycopg.Error, TimeoutError) as exc:
        raise InboxUnavailable from exc
