"""Writing deliveries into `webhook_inbox`, each exactly once.

`ON CONFLICT DO NOTHING` without a target covers both unique indexes (delivery id, and
idempotency token when present), so a retried or redelivered event is absorbed by the database
itself, also when two copies arrive at the same moment on different connections. The same
property makes retrying a write whose outcome is unknown safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import psycopg

from pco_pipeline.webhooks.database import ConnectionPool
from pco_pipeline.webhooks.envelope import Delivery

COLUMNS = ("event_name", "delivery_id", "attempt", "idempotency_token", "event_time",
           "resource_type", "resource_id", "raw_body")


class InboxUnavailable(Exception):
    """The inbox could not be written (the database is down, full, or refused); nothing was stored.

    The cause is chained; describe it with webhooks.database.describe_failure, never str() it
    whole, as a server error can quote the values it was given.
    """


@dataclass(frozen=True, slots=True)
class StoreResult:
    stored: list[str] = field(default_factory=list)      # delivery ids newly written
    duplicates: list[str] = field(default_factory=list)  # already held (same delivery id or idempotency token)


@lru_cache(maxsize=8)
def _insert_sql(rows: int) -> str:
    placeholders = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    return (f"INSERT INTO webhook_inbox ({', '.join(COLUMNS)}) VALUES {', '.join([placeholders] * rows)} "
            f"ON CONFLICT DO NOTHING RETURNING delivery_id")


async def store_deliveries(pool: ConnectionPool, deliveries: Sequence[Delivery], raw_body: bytes) -> StoreResult:
    """Insert `deliveries` (all from one request body) in one transaction; duplicates are skipped.

    Each row keeps the whole raw body: those are the bytes that were signed. Raises
    InboxUnavailable when the database cannot take the write.
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
    except (psycopg.Error, TimeoutError) as exc:  # down, refused by the server, or no free connection
        raise InboxUnavailable from exc

    result = StoreResult()
    for delivery in deliveries:
        if delivery.delivery_id in inserted:
            inserted.discard(delivery.delivery_id)  # a body repeating one id stored it once
            result.stored.append(delivery.delivery_id)
        else:
            result.duplicates.append(delivery.delivery_id)
    return result
