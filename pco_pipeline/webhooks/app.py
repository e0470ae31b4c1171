"""The public ASGI app: the webhook receiver and /healthz, nothing else (church data is served
only by the internal API, pco_pipeline.api)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pco_pipeline.webhooks.database import ConnectionPool, describe_failure, make_engine
from pco_pipeline.webhooks.receiver import WebhookReceiver
from pco_pipeline.webhooks.responses import service_unavailable
from pco_pipeline.webhooks.settings import ReceiverSettings
from pco_pipeline.webhooks.subscriptions import stored_secrets

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/pco/webhook"
# Failures that mean "the database is not there right now", as opposed to a bug.
UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def create_app(database_url: str, settings: ReceiverSettings | None = None) -> Starlette:
    """The receiver app on `database_url` (migrated), checking deliveries against `settings` and
    the secrets stored by `webhooks subscribe` (read again when a delivery matches none).

    The app owns its connections (see webhooks.database) and closes them on shutdown; it
    serves one event loop. `app.state.settings` holds the settings.
    """
    settings = settings or ReceiverSettings()
    pool = ConnectionPool(database_url)
    engine = make_engine(database_url)

    async def healthz(request: Request) -> Response:
        try:
            await pool.run(_ping)
        except (psycopg.Error, TimeoutError) as exc:
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
            await pool.close()
            engine.dispose()

    app = Starlette(
        routes=[
            Route(WEBHOOK_PATH, WebhookReceiver(pool, settings, lambda: stored_secrets(engine)).handle,
                  methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={error: database_unavailable for error in UNAVAILABLE},
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app


async def _ping(conn: psycopg.AsyncConnection) -> None:
    await conn.execute("SELECT 1")
