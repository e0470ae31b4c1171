"""The internal API's ASGI app: the read-only /api/pco/* listings, each behind a role, and /healthz.

Who may read what, in one place (`ROUTE_ROLES` below): every listing needs the `viewer` role,
which admins have too. `/healthz` is public: it says only whether the database answers.
"""

from __future__ import annotations

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from pco_pipeline.accounts.identity import Role
from pco_pipeline.api.access import (
    BearerTokenReader, ProtectedRoute, PublicRoute, check_every_route_declares_access,
)
from pco_pipeline.api.listings import LISTINGS, listing_endpoint
from pco_pipeline.webhooks.database import make_engine
from pco_pipeline.webhooks.listener import (
    HEALTH_PATH, UNAVAILABLE, closing_lifespan, database_unavailable_handlers, health_endpoint,
)

# The least role that may read each listing. A listing missing here is a KeyError at startup.
ROUTE_ROLES: dict[str, Role] = {
    "/api/pco/checkins": Role.VIEWER,
    "/api/pco/calendar-events": Role.VIEWER,
    "/api/pco/group-types": Role.VIEWER,
    "/api/pco/checkin-locations": Role.VIEWER,
}


def create_api_app(database_url: str) -> Starlette:
    """The internal API on `database_url` (migrated). Requests prove who they are with an API
    token; the app owns its engine and disposes of it on shutdown."""
    engine = make_engine(database_url)
    readers = [BearerTokenReader(engine)]  # the console's session reader joins this list

    async def ping() -> None:
        await run_in_threadpool(_ping, engine)

    async def close() -> None:
        engine.dispose()

    routes = [
        *(ProtectedRoute(listing.path, listing_endpoint(engine, listing), required_role=ROUTE_ROLES[listing.path],
                         readers=readers)
          for listing in LISTINGS),
        PublicRoute(HEALTH_PATH, health_endpoint(ping, UNAVAILABLE),
                    why_public="says only whether the database answers; no church data"),
    ]
    check_every_route_declares_access(routes)
    return Starlette(routes=routes, exception_handlers=database_unavailable_handlers(),
                     lifespan=closing_lifespan(close))


def _ping(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
