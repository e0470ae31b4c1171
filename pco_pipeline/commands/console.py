"""`pco-pipeline console`: the staff console (dashboard, actions, quarantine review) on the internal
listener, behind a password sign-in (`pco-pipeline users add`). Never expose it to the internet."""

from __future__ import annotations

import sys

from pco_pipeline.accounts.users import list_users
from pco_pipeline.commands.accounts_common import accounts_engine
from pco_pipeline.commands.api import is_loopback
from pco_pipeline.commands.listening import add_listen_options, bind_or_explain, serve_until_stopped
from pco_pipeline.console.app import create_console_app
from pco_pipeline.console.settings import ConsoleSettingsError, load_settings
from pco_pipeline.db.resolve import resolve_database

DEFAULT_PORT = 8789


def register(subparsers) -> None:
    console = subparsers.add_parser(
        "console", help="serve the staff console: dashboard, actions, quarantine review (internal only)",
        description="Serve the staff console. Sign in with a user of `pco-pipeline users add`; runs are launched "
                    "through the Dagster webserver (`make ui`).")
    add_listen_options(console, default_port=DEFAULT_PORT,
                       host_note="this machine only; never expose the console to the internet")
    console.set_defaults(handler=run_serve)


def users_line(count: int) -> str:
    if count:
        return f"console users: {count} (`pco-pipeline users list`)"
    return "console users: none yet; add one with `pco-pipeline users add NAME --role admin`"


def run_serve(args) -> int:
    try:
        settings = load_settings()
    except ConsoleSettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    target = resolve_database()
    with accounts_engine() as engine:
        users = len(list_users(engine))
    sock = bind_or_explain(args.host, args.port, target)
    if sock is None:
        return 2
    print(users_line(users))
    print(f"runs are launched through the Dagster webserver at {settings.dagster_url} (PCO_CONSOLE_DAGSTER_URL)")
    if not is_loopback(args.host):
        print(f"warning: listening on {args.host}, not only on this machine: the console shows church data; "
              "keep it off the internet", file=sys.stderr)
    return serve_until_stopped(create_console_app(target.url, settings), sock, args.host,
                               "the staff console (sign in)", request_logger="pco_pipeline.console")
