"""Running the receiver app under uvicorn: in the foreground (the CLI) or in a background thread.

The listening socket is bound here, before uvicorn starts, so a port already in use is an
OSError the caller can report in one line, and port 0 yields a known free port at once.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

GRACEFUL_SHUTDOWN_SECONDS = 10


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (`host`, `port`); port 0 picks a free one. Raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # rebind right after a restart
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _server(app: Any, *, access_log: bool, configure_logging: bool) -> uvicorn.Server:
    config_args: dict[str, Any] = {} if configure_logging else {"log_config": None}
    config = uvicorn.Config(app, lifespan="on", access_log=access_log,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS, **config_args)
    return uvicorn.Server(config)


def serve(app: Any, sock: socket.socket, *, access_log: bool = True) -> None:
    """Serve `app` on the bound `sock` until SIGINT/SIGTERM (graceful: in-flight requests finish)."""
    _server(app, access_log=access_log, configure_logging=True).run(sockets=[sock])


class BackgroundServer:
    """`app` served by uvicorn in a daemon thread on `host`:`port` (0 = a free port).

    Use as a context manager, or call start() and stop(). The logging configuration of the
    process is left untouched (uvicorn's records propagate to the root logger).
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, access_log: bool = False) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.access_log = access_log
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> "BackgroundServer":
        sock = bind_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._server = _server(self.app, access_log=self.access_log, configure_logging=False)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the server on {self.url} stopped during startup")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the server on {self.url} did not start within {timeout} s")
            time.sleep(0.01)
        return self

    def stop(self, *, graceful: bool = True, timeout: float = 30.0) -> None:
        """Stop serving. `graceful=False` drops in-flight requests, like a crash would."""
        if self._server is None or self._thread is None:
            return
        self._server.force_exit = not graceful
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the server on {self.url} did not stop within {timeout} s")
        self._server = self._thread = None

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
