"""The internal API's ASGI app: the read-only /api/pco/* listings, each behind a role, and /healthz.

Who may read what, in one place (`ROUTE_ROLES` below): every listing needs the `viewer` role,
which admins have too. `/healthz` is public: it says only whether the database answers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pco_pipeline.accounts.identity import Role
from pco_pipeline.api.access import (
    BearerTokenReader, ProtectedRoute, PublicRoute, check_every_route_declares_access,
)
from pco_pipeline.api.listings import LISTINGS, listing_endpoint
from pco_pipeline.webhooks.app import UNAVAILABLE
from pco_pipeline.webhooks.database import describe_failure, make_engine
from pco_pipeline.webhooks.responses import service_unavailable

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
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

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(_ping, engine)
        except UNAVAILABLE as exc:
            log.warning("health check: database unreachable: %s", describe_failure(exc))
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "reachable"})

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        log.error("%s %s: database unavailable: %s", request.method, request.url.path, describe_failure(exc))
        return service_unavailable("the database cannot be reached right now")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            engine.dispose()

    routes = [
        *(ProtectedRoute(listing.path, listing_endpoint(engine, listing), required_role=ROUTE_ROLES[listing.path],
                         readers=readers)
          for listing in LISTINGS),
        PublicRoute(HEALTH_PATH, healthz, why_public="says only whether the database answers; no church data"),
    ]
    check_every_route_declares_access(routes)
    return Starlette(routes=routes, exception_handlers={error: database_unavailable for error in UNAVAILABLE},
                     lifespan=lifespan)


def _ping(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
