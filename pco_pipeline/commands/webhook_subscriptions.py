"""`pco-pipeline webhooks subscribe` and `pco-pipeline webhooks status` (registered by commands.webhooks).

Neither ever prints a subscription secret: only whether one is stored.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from urllib.parse import urlparse

from pco_pipeline.db.engine import get_engine
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.db.resolve import resolve_database
from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.config import PCOConfig
from pco_pipeline.pco.errors import PCOConfigError, PCOError
from pco_pipeline.sync.webhook_events import SUBSCRIBED_EVENTS
from pco_pipeline.sync.webhook_inbox import backlog
from pco_pipeline.webhooks.settings import SECRETS_ENV, parse_secrets
from pco_pipeline.webhooks.subscriptions import remote_subscriptions, stored_subscriptions, subscribe

RECEIVER_PATH = "/api/pco/webhook"


def register(actions) -> None:
    sub = actions.add_parser(
        "subscribe", help="create (or re-activate) the PCO webhook subscriptions this pipeline uses, "
                          "and store their secrets for the receiver")
    sub.add_argument("--url", required=True,
                     help=f"the public URL PCO delivers to, ending in {RECEIVER_PATH} "
                          f"(e.g. https://church.example.org{RECEIVER_PATH})")
    sub.set_defaults(handler=run_subscribe)

    status = actions.add_parser(
        "status", help="the stored subscriptions, whether webhook secrets are configured, the inbox backlog "
                       "and the rejected deliveries")
    status.add_argument("--remote", action="store_true",
                        help="also ask PCO which of the subscriptions are there and active")
    status.set_defaults(handler=run_status)


def _engine():
    engine = get_engine(resolve_database().url)
    apply_migrations(engine)
    return engine


def _client() -> PCOClient | None:
    try:
        return PCOClient(PCOConfig.from_env().validated())
    except PCOConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return None


def url_problem(url: str) -> str | None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return f"--url must be an http(s) URL, got {url!r}"
    return None


def run_subscribe(args) -> int:
    problem = url_problem(args.url)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    engine = _engine()
    client = _client()
    if client is None:
        return 2
    with client:
        try:
            report = subscribe(client, engine, args.url)
        except PCOError as exc:
            print(f"error: PCO refused the subscription request: {exc}", file=sys.stderr)
            return 1
    states = {**{s.pco_id: "created" for s in report.created},
              **{s.pco_id: "re-activated" for s in report.reactivated},
              **{s.pco_id: "already active" for s in report.unchanged}}
    width = max(len(name) for name in SUBSCRIBED_EVENTS)
    print(f"PCO subscriptions delivering to {args.url}:")
    for subscription in report.all:
        print(f"  {subscription.event_name:<{width}}  id {subscription.pco_id:<10} {states[subscription.pco_id]}")
    if not urlparse(args.url).path.endswith(RECEIVER_PATH):
        print(f"note: the receiver listens on {RECEIVER_PATH}; make sure your proxy forwards {args.url} there")
    stored = sum(1 for s in report.all if s.secret)
    print(f"{stored} secret(s) stored in webhook_subscriptions (never shown). Restart `pco-pipeline webhooks serve` "
          f"so the receiver accepts them.")
    return 0


def _age(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    seconds = int((datetime.now(timezone.utc) - moment).total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def run_status(args) -> int:
    engine = _engine()
    with engine.connect() as conn:
        stored = stored_subscriptions(conn)
        inbox = backlog(conn)
    env_secrets = len(parse_secrets(os.environ.get(SECRETS_ENV, "")))

    print(f"subscriptions stored by `webhooks subscribe`: {len(stored)} of {len(SUBSCRIBED_EVENTS)} events")
    remote = None
    if args.remote:
        client = _client()
        if client is None:
            return 2
        with client:
            try:
                remote = {s.pco_id: s for s in remote_subscriptions(client)}
            except PCOError as exc:
                print(f"error: could not list PCO's subscriptions: {exc}", file=sys.stderr)
                return 1
    for subscription in stored:
        line = (f"  {subscription.event_name:<45} id {subscription.pco_id:<10} "
                f"{'active' if subscription.active else 'INACTIVE':<8} secret {'stored' if subscription.secret else 'MISSING'}"
                f"  {subscription.url}")
        if remote is not None:
            there = remote.get(subscription.pco_id)
            line += "  (PCO: " + ("gone" if there is None else "active" if there.active else "INACTIVE") + ")"
        print(line)
    missing = sorted(set(SUBSCRIBED_EVENTS) - {s.event_name for s in stored if s.active})
    if missing:
        print(f"  not subscribed: {', '.join(missing)} (run `pco-pipeline webhooks subscribe --url …`)")

    secrets = sum(1 for s in stored if s.secret)
    if secrets or env_secrets:
        print(f"webhook secrets: {secrets} stored, {env_secrets} in {SECRETS_ENV}")
    else:
        print(f"webhook secrets: none; the receiver refuses every delivery with 401 until you run "
              f"`webhooks subscribe` or set {SECRETS_ENV}")

    counts = ", ".join(f"{status} {count}" for status, count in inbox.by_status.items())
    print(f"inbox: {counts}")
    print(f"  waiting: {inbox.open} (due now {inbox.due_now}), oldest received {_age(inbox.oldest_open)} ago")
    if inbox.rejected:
        print(f"rejected deliveries: {inbox.rejected}, the latest {_age(inbox.last_rejected)} ago (signed by PCO but "
              f"unusable; kept with the reason in webhook_rejections)")
    else:
        print("rejected deliveries: 0")
    return 0
