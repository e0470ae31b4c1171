"""Running the receiver app under uvicorn: in the foreground (the CLI) or in a background thread.

The listening socket is bound here, before uvicorn starts, so a port already in use is an
OSError the caller can report in one line, and port 0 yields a known free port at once.

Every server started here applies `ConnectionLimits` (see webhooks.settings): uvicorn's own
keep-alive timeout, concurrency limit and backlog, h11's header size limit, and a read timeout
uvicorn lacks (`ReadTimeoutProtocol`). h11 is used rather than httptools (uvicorn's default when
installed) because uvicorn's httptools protocol puts no bound on the size of a request's headers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import threading
import time
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from pco_pipeline.webhooks.settings import ConnectionLimits

log = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN_SECONDS = 10


class ReadTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request has not fully arrived (line,
    headers and body) `read_timeout` seconds after the connection opened, or after the request's
    first byte on a kept-alive connection.

    Why: uvicorn has no such timeout. Its only timer is the keep-alive one, armed between requests
    and cancelled by the first byte of the next, so a fresh connection that sends nothing, or
    headers or a body trickled a byte at a time (slowloris), holds its connection forever, and
    enough of them exhaust the concurrency limit. A request whose headers were still arriving is
    answered 408 before the close; one already handed to the app is just closed (the app sees the
    client disconnect); a connection that never sent a byte is just closed.
    """

    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = read_timeout
        self._read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self._arm_read_deadline()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:  # the first byte of a request starts its deadline
            self._arm_read_deadline()
        super().data_received(data)
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):  # received whole (or refused)
            self._cancel_read_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_read_deadline()
        super().connection_lost(exc)

    def _arm_read_deadline(self) -> None:
        if self._read_deadline is None:
            self._read_deadline = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _cancel_read_deadline(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        client = "%s:%d" % self.client if self.client else "a client"
        headers_pending = self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]
        log.info("closed the connection from %s: %s within %g s", client,
                 "its request headers were not complete" if headers_pending
                 else "its request body was not complete" if self.conn.their_state is h11.SEND_BODY
                 else "no request", self.read_timeout)
        if headers_pending:
            detail = f"the request did not arrive within {self.read_timeout:g} s".encode()
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                                 b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(detail), detail))
        self.transport.close()


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


def _server(app: Any, *, access_log: bool, configure_logging: bool, limits: ConnectionLimits) -> uvicorn.Server:
    config_args: dict[str, Any] = {} if configure_logging else {"log_config": None}
    config = uvicorn.Config(
        app, lifespan="on", access_log=access_log, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # uvicorn only calls `http` to make each connection's protocol, so a partial carrying the
        # timeout serves where it expects a class (and where its annotation says a class).
        http=functools.partial(  # pyright: ignore[reportArgumentType]
            ReadTimeoutProtocol, read_timeout=limits.read_timeout_seconds),
        h11_max_incomplete_event_size=limits.max_header_bytes,
        # Annotated int, used as call_later's delay: a float serves.
        timeout_keep_alive=limits.keep_alive_seconds,  # pyright: ignore[reportArgumentType]
        limit_concurrency=limits.max_concurrency,
        backlog=limits.backlog,
        ws="none",  # nothing here speaks WebSocket: an upgrade request is served as plain HTTP
        **config_args)
    return uvicorn.Server(config)


def serve(app: Any, sock: socket.socket, *, access_log: bool = True,
          limits: ConnectionLimits = ConnectionLimits()) -> None:
    """Serve `app` on the bound `sock` until SIGINT/SIGTERM (graceful: in-flight requests finish),
    within `limits`."""
    _server(app, access_log=access_log, configure_logging=True, limits=limits).run(sockets=[sock])


class BackgroundServer:
    """`app` served by uvicorn in a daemon thread on `host`:`port` (0 = a free port), within `limits`.

    Use as a context manager, or call start() and stop(). The logging configuration of the
    process is left untouched (uvicorn's records propagate to the root logger).
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, *, access_log: bool = False,
                 limits: ConnectionLimits = ConnectionLimits()) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.access_log = access_log
        self.limits = limits
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> "BackgroundServer":
        sock = bind_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        self._server = _server(self.app, access_log=self.access_log, configure_logging=False, limits=self.limits)
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
