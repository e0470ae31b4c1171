"""`pco-pipeline api serve`: the internal API (read-only /api/pco/* listings behind API tokens).

It listens on 127.0.0.1 by default and is never to be exposed to the internet: only the webhook
receiver (`pco-pipeline webhooks serve`) is. Apps on the same machine (or a private network)
call it with `Authorization: Bearer <token>` (`pco-pipeline tokens create`).
"""

from __future__ import annotations

import ipaddress
import logging
import sys

from pco_pipeline.accounts.identity import Role
from pco_pipeline.accounts.tokens import list_tokens
from pco_pipeline.api.app import HEALTH_PATH, ROUTE_ROLES, create_api_app
from pco_pipeline.commands.accounts_common import accounts_engine
from pco_pipeline.db.resolve import resolve_database
from pco_pipeline.webhooks.server import bind_socket, serve

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8788


def register(subparsers) -> None:
    api = subparsers.add_parser("api", help="the internal API: read-only church data for the church's own apps")
    actions = api.add_subparsers(dest="api_command", metavar="ACTION", required=True)
    serve_parser = actions.add_parser(
        "serve", help="serve the read-only /api/pco/* listings to callers with an API token (internal only)")
    serve_parser.add_argument("--host", default=DEFAULT_HOST,
                              help=f"address to listen on (default {DEFAULT_HOST}: this machine only; never "
                                   f"expose this listener to the internet)")
    serve_parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    serve_parser.set_defaults(handler=run_serve)


def _paths_by_role() -> dict[Role, list[str]]:
    by_role: dict[Role, list[str]] = {}
    for path, role in ROUTE_ROLES.items():
        by_role.setdefault(role, []).append(path)
    return by_role


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run_serve(args) -> int:
    target = resolve_database()
    with accounts_engine() as engine:
        active_tokens = sum(1 for token in list_tokens(engine) if token.revoked_at is None)
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc} (choose another --port)",
              file=sys.stderr)
        return 2
    print(f"church database: {target.display_url()} ({target.source})")
    if active_tokens:
        print(f"API tokens: {active_tokens} active (`pco-pipeline tokens list`)")
    else:
        print("API tokens: none yet; every read is refused with 401 until an admin runs "
              "`pco-pipeline tokens create NAME --role viewer`")
    if not is_loopback(args.host):
        print(f"warning: listening on {args.host}, not only on this machine: this API serves church data "
              f"(children's check-ins included); keep it off the internet", file=sys.stderr)
    base = f"http://{args.host}:{sock.getsockname()[1]}"
    reads = "; ".join(f"GET {', '.join(paths)} with a token of role {' or '.join(r for r in Role if r.includes(role))}"
                      for role, paths in _paths_by_role().items())
    print(f"listening on {base}: {reads}; GET {HEALTH_PATH} without one  (Ctrl-C stops)", flush=True)
    # One line per refused request (method, path, client, reason; never a credential).
    logging.getLogger("pco_pipeline.api").setLevel(logging.INFO)
    serve(create_api_app(target.url), sock)
    return 0
