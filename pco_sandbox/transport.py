"""Calling the sandbox in-process: a sync httpx transport over its ASGI app, no sockets.

    httpx.Client(transport=InProcessTransport(sandbox.app))            # sync (what sandbox.client() uses)
    httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app))  # async needs nothing of ours
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx

LOOPBACK = "127.0.0.1"


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
