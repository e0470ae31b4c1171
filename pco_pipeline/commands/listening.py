"""What `webhooks serve` and `api serve` share: their --host/--port options, binding the port (a
clash is one line naming it), the database line of the banner, and serving until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from typing import Any

from pco_pipeline.db.resolve import DatabaseTarget
from pco_pipeline.webhooks.server import bind_socket, serve
from pco_pipeline.webhooks.settings import ConnectionLimits


DEFAULT_HOST = "127.0.0.1"


def add_listen_options(parser: argparse.ArgumentParser, *, default_port: int, host_note: str) -> None:
    """--host (default DEFAULT_HOST; `host_note` says who should reach it) and --port."""
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default {DEFAULT_HOST}: {host_note})")
    parser.add_argument("--port", type=int, default=default_port, help=f"default {default_port}")


def bind_or_explain(host: str, port: int, target: DatabaseTarget) -> socket.socket | None:
    """The socket bound to `host`:`port`, after printing which church database it serves; None
    (the reason printed on stderr in one line) when the port cannot be bound."""
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port)",
              file=sys.stderr)
        return None
    print(f"church database: {target.display_url()} ({target.source})")
    return sock


def serve_until_stopped(app: Any, sock: socket.socket, host: str, answers: str, *, request_logger: str,
                        limits: ConnectionLimits = ConnectionLimits()) -> int:
    """Print `listening on http://HOST:PORT: <answers>`, then serve `app` on `sock` until Ctrl-C
    or SIGTERM, logging `request_logger`'s one line per request (which never holds a credential
    or a payload). Returns the exit code."""
    print(f"listening on http://{host}:{sock.getsockname()[1]}: {answers}  (Ctrl-C stops)", flush=True)
    logging.getLogger(request_logger).setLevel(logging.INFO)
    serve(app, sock, limits=limits)
    return 0
