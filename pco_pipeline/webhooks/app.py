"""The public ASGI app: the webhook receiver and /healthz, nothing else (church data is served
only by the internal API, pco_pipeline.api)."""

from __future__ import annotations

import psycopg
from starlette.applications import Starlette
from starlette.routing import Route

from pco_pipeline.webhooks.database import ConnectionPool, make_engine
from pco_pipeline.webhooks.listener import (
    HEALTH_PATH, closing_lifespan, database_unavailable_handlers, health_endpoint,
)
from pco_pipeline.webhooks.receiver import WebhookReceiver
from pco_pipeline.webhooks.settings import ReceiverSettings
from pco_pipeline.webhooks.subscriptions import stored_secrets

WEBHOOK_PATH = "/api/pco/webhook"


def create_app(database_url: str, settings: ReceiverSettings | None = None) -> Starlette:
    """The receiver app on `database_url` (migrated), checking deliveries against `settings` and
    the secrets stored by `webhooks subscribe` (read again when a delivery matches none).

    The app owns its connections (see webhooks.database) and closes them on shutdown; it
    serves one event loop. `app.state.settings` holds the settings.
    """
    settings = settings or ReceiverSettings()
    pool = ConnectionPool(database_url)
    engine = make_engine(database_url)

    async def ping() -> None:
        await pool.run(_ping)

    async def close() -> None:
        await pool.close()
        engine.dispose()

    app = Starlette(
        routes=[
            Route(WEBHOOK_PATH, WebhookReceiver(pool, settings, lambda: stored_secrets(engine)).handle,
                  methods=["POST"]),
            Route(HEALTH_PATH, health_endpoint(ping, (psycopg.Error, TimeoutError)), methods=["GET"]),
        ],
        exception_handlers=database_unavailable_handlers(),
        lifespan=closing_lifespan(close),
    )
    app.state.settings = settings
    return app


async def _ping(conn: psycopg.AsyncConnection) -> None:
    await conn.execute("SELECT 1")
