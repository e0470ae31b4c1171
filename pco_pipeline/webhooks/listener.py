"""What both listeners' apps share (the public receiver here and the internal API, pco_pipeline.api):
`/healthz`, a 503 when the database is lost mid-request, and closing their connections on shutdown.

It lives beside the receiver, like the other HTTP helpers the internal API reuses
(webhooks.database, webhooks.responses, webhooks.server).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError, TimeoutError as PoolTimeoutError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pco_pipeline.webhooks.database import describe_failure
from pco_pipeline.webhooks.responses import service_unavailable

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
# SQLAlchemy failures that mean "the database is not there right now", as opposed to a bug.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)


def health_endpoint(ping: Callable[[], Awaitable[None]],
                    unreachable: tuple[type[BaseException], ...]) -> Callable[[Request], Awaitable[Response]]:
    """`GET /healthz`: 200 when `ping()` returns, 503 when it raises one of `unreachable` (logged
    as a warning without the failure's data). Says only whether the database answers."""

    async def healthz(request: Request) -> Response:
        try:
            await ping()
        except unreachable as exc:
            log.warning("health check: database unreachable: %s", describe_failure(exc))
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "reachable"})

    return healthz


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.error("%s %s: database unavailable: %s", request.method, request.url.path, describe_failure(exc))
    return service_unavailable("the database cannot be reached right now")


def database_unavailable_handlers() -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    """Starlette exception handlers answering 503 (retry later) for every UNAVAILABLE failure."""
    return {error: _database_unavailable for error in UNAVAILABLE}


def closing_lifespan(close: Callable[[], Awaitable[None]]) -> Callable[[Any], Any]:
    """A Starlette lifespan that awaits `close()` on shutdown (the app's connections)."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await close()

    return lifespan
