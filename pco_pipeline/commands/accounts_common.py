"""What the `users`, `tokens` and `api` commands share: the church database engine they use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa

from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.db.resolve import resolve_database
from pco_pipeline.webhooks.database import make_engine


@contextmanager
def accounts_engine() -> Iterator[sa.Engine]:
    """An engine on the migrated church database that never logs or reports bound parameters
    (they include password and token hashes), disposed of when the block ends."""
    engine = make_engine(resolve_database().url)
    try:
        apply_migrations(engine)
        yield engine
    finally:
        engine.dispose()


def moment(value: datetime | None) -> str:
    """A timestamp for a listing, to the minute in local time; '-' when there is none."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M %Z") if value else "-"
