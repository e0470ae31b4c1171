"""`pco-pipeline api serve`: the internal API (read-only /api/pco/* listings behind API tokens).

It listens on 127.0.0.1 by default and is never to be exposed to the internet: only the webhook
receiver (`pco-pipeline webhooks serve`) is. Apps on the same machine (or a private network)
call it with `Authorization: Bearer <token>` (`pco-pipeline tokens create`).
"""

from __future__ import annotations

import ipaddress
import sys

from pco_pipeline.accounts.identity import Role
from pco_pipeline.accounts.tokens import list_tokens
from pco_pipeline.api.app import HEALTH_PATH, ROUTE_ROLES, create_api_app
from pco_pipeline.commands.accounts_common import accounts_engine
from pco_pipeline.commands.listening import add_listen_options, bind_or_explain, serve_until_stopped
from pco_pipeline.db.resolve import resolve_database

DEFAULT_PORT = 8788


def register(subparsers) -> None:
    api = subparsers.add_parser("api", help="the internal API: read-only church data for the church's own apps")
    actions = api.add_subparsers(dest="api_command", metavar="ACTION", required=True)
    serve_parser = actions.add_parser(
        "serve", help="serve the read-only /api/pco/* listings to callers with an API token (internal only)")
    add_listen_options(serve_parser, default_port=DEFAULT_PORT,
                       host_note="this machine only; never expose this listener to the internet")
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
    sock = bind_or_explain(args.host, args.port, target)
    if sock is None:
        return 2
    if active_tokens:
        print(f"API tokens: {active_tokens} active (`pco-pipeline tokens list`)")
    else:
        print("API tokens: none yet; every read is refused with 401 until an admin runs "
              "`pco-pipeline tokens create NAME --role viewer`")
    if not is_loopback(args.host):
        print(f"warning: listening on {args.host}, not only on this machine: this API serves church data "
              f"(children's check-ins included); keep it off the internet", file=sys.stderr)
    reads = "; ".join(f"GET {', '.join(paths)} with a token of role {' or '.join(r for r in Role if r.includes(role))}"
                      for role, paths in _paths_by_role().items())
    # One line per refused request (method, path, client, reason; never a credential).
    return serve_until_stopped(create_api_app(target.url), sock, args.host, f"{reads}; GET {HEALTH_PATH} without one",
                               request_logger="pco_pipeline.api")
