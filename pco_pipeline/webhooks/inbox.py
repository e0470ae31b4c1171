"""Writing deliveries into `webhook_inbox`, each exactly once.

`ON CONFLICT DO NOTHING` without a target covers both unique indexes (delivery id, and
idempotency token when present), so a retried or redelivered event is absorbed by the database
itself, also when two copies arrive at the same moment on different connections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from pco_pipeline.webhooks.envelope import Delivery

webhook_inbox = sa.table(
    "webhook_inbox",
    sa.column("event_name", sa.Text),
    sa.column("delivery_id", sa.Text),
    sa.column("attempt", sa.Integer),
    sa.column("idempotency_token", sa.Text),
    sa.column("event_time", sa.DateTime(timezone=True)),
    sa.column("resource_type", sa.Text),
    sa.column("resource_id", sa.Text),
    sa.column("raw_body", sa.LargeBinary),
)


@dataclass(frozen=True, slots=True)
class StoreResult:
    stored: list[str]      # delivery ids newly written
    duplicates: list[str]  # delivery ids already held (same delivery id or idempotency token)


def store_deliveries(engine: sa.Engine, deliveries: Sequence[Delivery], raw_body: bytes) -> StoreResult:
    """Insert `deliveries` (all from one request body) in one transaction; duplicates are skipped.

    Each row keeps the whole raw body: those are the bytes that were signed. Raises
    SQLAlchemyError when the database cannot take the write (nothing is then stored).
    """
    rows = [{
        "event_name": d.event_name,
        "delivery_id": d.delivery_id,
        "attempt": d.attempt,
        "idempotency_token": d.idempotency_token,
        "event_time": d.event_time,
        "resource_type": d.resource_type,
        "resource_id": d.resource_id,
        "raw_body": raw_body,
    } for d in deliveries]
    statement = (insert(webhook_inbox).values(rows).on_conflict_do_nothing()
                 .returning(webhook_inbox.c.delivery_id))
    with engine.begin() as conn:
        inserted = set(conn.execute(statement).scalars())
    result = StoreResult(stored=[], duplicates=[])
    for delivery in deliveries:
        if delivery.delivery_id in inserted:
            inserted.discard(delivery.delivery_id)  # a body repeating one id stored it once
            result.stored.append(delivery.delivery_id)
        else:
            result.duplicates.append(delivery.delivery_id)
    return result
