"""Running the sandbox: a real HTTP server on loopback, or in-process without sockets.

    with run_sandbox_server(sandbox) as base_url:          # uvicorn in a background thread
        httpx.get(f"{base_url}/people/v2/people", auth=(sandbox.app_id, sandbox.secret))

    serve(sandbox, port=8765)                              # foreground (the CLI)

In-process, without sockets: `sandbox.client()` (transport.InProcessTransport).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from pco_sandbox.core import Sandbox
from pco_sandbox.transport import LOOPBACK


def _uvicorn_config(sandbox: Sandbox, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(sandbox.asgi_app(over_http=True), host=host, port=port, log_level=log_level,
                          access_log=False, lifespan="off", timeout_graceful_shutdown=1)


@contextmanager
def run_sandbox_server(sandbox: Sandbox, *, host: str = LOOPBACK, port: int = 0,
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


def serve(sandbox: Sandbox, *, host: str = LOOPBACK, port: int = 8765, log_level: str = "info") -> None:
    """Serve in the foreground until interrupted (Ctrl-C)."""
    sandbox.public_base_url = f"http://{host}:{port}"
    uvicorn.Server(_uvicorn_config(sandbox, host, port, log_level)).run()
