"""The ASGI app: the webhook receiver, the read-only /api/pco/* listings and /healthz."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pco_pipeline.webhooks.api import read_only_routes
from pco_pipeline.webhooks.database import describe_failure, make_engine
from pco_pipeline.webhooks.receiver import WebhookReceiver
from pco_pipeline.webhooks.responses import error_response
from pco_pipeline.webhooks.settings import ReceiverSettings

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/pco/webhook"
# Failures that mean "the database is not there right now", as opposed to a bug.
UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def create_app(database_url: str, settings: ReceiverSettings | None = None) -> Starlette:
    """The receiver app on `database_url` (migrated), checking deliveries against `settings`.

    The app owns its connection pool (see webhooks.database.make_engine) and disposes it on
    shutdown; `app.state.engine` and `app.state.settings` expose both.
    """
    settings = settings or ReceiverSettings()
    engine = make_engine(database_url)

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(_ping, engine)
        except sa.exc.SQLAlchemyError as exc:
            log.warning("health check: database unreachable: %s", describe_failure(exc))
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "reachable"})

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        log.error("%s %s: database unavailable: %s", request.method, request.url.path, describe_failure(exc))
        return error_response(503, "Service Unavailable", "the database cannot be reached right now",
                              headers={"Retry-After": "30"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            engine.dispose()

    app = Starlette(
        routes=[
            Route(WEBHOOK_PATH, WebhookReceiver(engine, settings).handle, methods=["POST"]),
            *read_only_routes(engine),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        exception_handlers={error: database_unavailable for error in UNAVAILABLE},
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.settings = settings
    return app


def _ping(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
