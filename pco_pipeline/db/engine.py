"""SQLAlchemy engines for the church database, one per URL per process."""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa


@lru_cache(maxsize=16)
def get_engine(url: str) -> sa.Engine:
    """A pooled engine for `url` (a postgresql+psycopg URL), shared within the process."""
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5,
                            connect_args={"connect_timeout": 10, "application_name": "pco_pipeline"})
