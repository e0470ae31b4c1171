"""SQLAlchemy engines for the church database, one per URL per process.

Every connection these engines open is marked as the pipeline's own (`pco_pipeline.origin =
'pipeline'`, set when the connection starts): the change-capture triggers (sql/0017) record only
writes made without the mark, by other applications or by staff, so nothing the pipeline writes
(loads, webhook application, PCO ids stored after a push, conflict resolutions) echoes back into
the outbox as a church edit to push.
"""

from __future__ import annotations

from functools import lru_cache

import sqlalchemy as sa

ORIGIN_SETTING = "pco_pipeline.origin"
PIPELINE_ORIGIN = "pipeline"


def pipeline_connect_args() -> dict[str, object]:
    """psycopg connection arguments of a pipeline connection: its name in pg_stat_activity and the
    origin mark the change-capture triggers skip."""
    return {"connect_timeout": 10, "application_name": "pco_pipeline",
            "options": f"-c {ORIGIN_SETTING}={PIPELINE_ORIGIN}"}


@lru_cache(maxsize=16)
def get_engine(url: str) -> sa.Engine:
    """A pooled engine for `url` (a postgresql+psycopg URL), shared within the process; its
    connections carry the pipeline's origin mark."""
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args=pipeline_connect_args())
