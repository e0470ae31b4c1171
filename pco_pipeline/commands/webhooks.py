"""`pco-pipeline webhooks …`: the real-time side of the sync.

    serve      run the webhook receiver (the one listener to expose to the internet; it serves no
               church data: the read-only /api/pco/* listings are `pco-pipeline api serve`'s)
    subscribe  create the PCO subscriptions this pipeline uses and store their secrets
    status     subscriptions, whether secrets are configured, and the inbox backlog
"""

from __future__ import annotations

import sys
from dataclasses import replace

from pco_pipeline.commands import webhook_subscriptions as subscriptions
from pco_pipeline.commands.listening import add_listen_options, bind_or_explain, serve_until_stopped
from pco_pipeline.db.engine import get_engine
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.db.resolve import resolve_database
from pco_pipeline.webhooks.app import WEBHOOK_PATH, create_app
from pco_pipeline.webhooks.listener import HEALTH_PATH
from pco_pipeline.webhooks.settings import SECRETS_ENV, ReceiverSettings, WebhookSettingsError
from pco_pipeline.webhooks.subscriptions import stored_secrets

DEFAULT_PORT = 8787


def register(subparsers) -> None:
    webhooks = subparsers.add_parser("webhooks", help="the webhook receiver and PCO webhook subscriptions")
    actions = webhooks.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)
    serve_parser = actions.add_parser(
        "serve", help="receive PCO webhooks into webhook_inbox (the public listener: POST "
                      f"{WEBHOOK_PATH} and GET /healthz only)")
    add_listen_options(serve_parser, default_port=DEFAULT_PORT, host_note="PCO reaches it through your reverse proxy")
    serve_parser.set_defaults(handler=run_serve)
    subscriptions.register(actions)


def run_serve(args) -> int:
    try:
        settings = ReceiverSettings.from_env()
    except WebhookSettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    target = resolve_database()
    engine = get_engine(target.url)
    apply_migrations(engine)
    stored = stored_secrets(engine)
    settings = replace(settings, secrets=(*settings.secrets, *stored))
    sock = bind_or_explain(args.host, args.port, target)
    if sock is None:
        return 2
    if settings.secrets:
        print(f"webhook secrets: {len(settings.secrets)} configured ({SECRETS_ENV} and {len(stored)} stored by "
              f"`webhooks subscribe`)")
    else:
        print(f"webhook secrets: none configured; set {SECRETS_ENV} (comma-separated, one per "
              f"subscription) or run `pco-pipeline webhooks subscribe`, or every delivery is refused with 401")
    limits = settings.limits
    print(f"limits: body {settings.max_body_bytes} bytes, headers {limits.max_header_bytes} bytes, a request must "
          f"arrive within {limits.read_timeout_seconds:g} s, idle connections closed after "
          f"{limits.keep_alive_seconds:g} s, at most {limits.max_concurrency} connections")
    # One line per delivery (event, delivery id, attempt, size; never the payload).
    return serve_until_stopped(create_app(target.url, settings), sock, args.host,
                               f"POST {WEBHOOK_PATH}; GET {HEALTH_PATH}", request_logger="pco_pipeline.webhooks",
                               limits=settings.limits)
