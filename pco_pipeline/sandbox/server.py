"""Running the sandbox: a real HTTP server on loopback, or in-process without sockets.

    with run_sandbox_server(sandbox) as base_url:          # uvicorn in a background thread
        httpx.get(f"{base_url}/people/v2/people", auth=(sandbox.app_id, sandbox.secret))

    serve(sandbox, port=8765)                              # foreground (the CLI)

    httpx.Client(transport=InProcessTransport(sandbox.app))   # sync, no sockets
    httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app))  # async, no sockets
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn

if TYPE_CHECKING:
    from pco_pipeline.sandbox.core import Sandbox

LOOPBACK = "127.0.0.1"


def _uvicorn_config(sandbox: "Sandbox", host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(sandbox.asgi_app(over_http=True), host=host, port=port, log_level=log_level,
                          access_log=False, lifespan="off", timeout_graceful_shutdown=1)


@contextmanager
def run_sandbox_server(sandbox: "Sandbox", *, host: str = LOOPBACK, port: int = 0,
                       log_level: str = "warning") -> Iterator[str]:
    """Serve `sandbox` over HTTP in a background thread; yields its base URL (port 0: a free one).

    Webhook payload links use the served URL while it runs.
    """
    server = uvicorn.Server(_uvicorn_config(sandbox, host, port, log_level))
    thread = threading.Thread(target=server.run, name="pco-sandbox-server", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the sandbox server could not start on {host}:{port}")
        thread.join(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    base_url = f"http://{host}:{bound_port}"
    previous_public = sandbox.public_base_url
    sandbox.public_base_url = base_url
    try:
        yield base_url
    finally:
        sandbox.public_base_url = previous_public
        server.should_exit = True
        thread.join(timeout=10)


def serve(sandbox: "Sandbox", *, host: str = LOOPBACK, port: int = 8765, log_level: str = "info") -> None:
    """Serve in the foreground until interrupted (Ctrl-C)."""
    sandbox.public_base_url = f"http://{host}:{port}"
    uvicorn.Server(_uvicorn_config(sandbox, host, port, log_level)).run()


class InProcessTransport(httpx.BaseTransport):
    """A sync httpx transport that calls an ASGI app directly, on a private event-loop thread.

    Exceptions the app raises on purpose (fault injection's httpx.RemoteProtocolError /
    httpx.ReadTimeout) reach the caller as they would from a real connection.
    """

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app, client=(LOOPBACK, 50000))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pco-sandbox-inprocess", daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        inner_request = httpx.Request(request.method, request.url, headers=request.headers, content=content)

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self._inner.handle_async_request(inner_request)
            body = await response.aread()
            return response.status_code, response.headers.raw, body

        status, headers, body = asyncio.run_coroutine_threadsafe(call(), self._loop).result()
        return httpx.Response(status, headers=headers, content=body, request=request)

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()
