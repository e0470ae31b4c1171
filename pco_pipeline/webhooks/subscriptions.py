"""The PCO webhook subscriptions this pipeline uses: created through the API, their secrets kept here.

PCO gives every subscription (one event name + one URL) its own `authenticity_secret`.
`subscribe` makes sure PCO has an active subscription to `url` for every event the pipeline
applies (`webhook_events.SUBSCRIBED_EVENTS`), creating the missing ones and re-activating
paused ones, and stores each subscription with its secret in `webhook_subscriptions`; the
receiver accepts those secrets in addition to `PCO_WEBHOOK_SECRETS`. Running it again changes
nothing that is already right.

The subscriptions API depends on the Webhooks version (pco_api.md §4): `/webhooks/v2/
webhook_subscriptions` (type WebhookSubscription) from 2022-10-20, `/webhooks/v2/subscriptions`
(type Subscription) before; the client's pinned version decides.

A secret never leaves this module except to the receiver: `Subscription.secret` is not part of
its repr, and nothing here prints or logs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from pco_pipeline.pco.client import PCOClient, resource_body
from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync.webhook_events import SUBSCRIBED_EVENTS

WEBHOOK_SUBSCRIPTION_SINCE = "2022-10-20"


@dataclass(frozen=True)
class Subscription:
    pco_id: str
    event_name: str
    url: str
    active: bool
    secret: str | None = field(default=None, repr=False)


@dataclass
class SubscribeReport:
    created: list[Subscription] = field(default_factory=list)
    reactivated: list[Subscription] = field(default_factory=list)
    unchanged: list[Subscription] = field(default_factory=list)

    @property
    def all(self) -> list[Subscription]:
        return sorted([*self.created, *self.reactivated, *self.unchanged], key=lambda s: s.event_name)


def _endpoint(client: PCOClient) -> tuple[str, str]:
    """(collection path, resource type) of the subscriptions API at the client's Webhooks version."""
    version = client.config.api_versions.get("webhooks") or ""
    if version >= WEBHOOK_SUBSCRIPTION_SINCE:
        return "/webhooks/v2/webhook_subscriptions", "WebhookSubscription"
    return "/webhooks/v2/subscriptions", "Subscription"


def _subscription(resource: Resource) -> Subscription:
    attributes = resource.attributes
    return Subscription(pco_id=resource.id, event_name=str(attributes.get("name") or ""),
                        url=str(attributes.get("url") or ""), active=bool(attributes.get("active")),
                        secret=attributes.get("authenticity_secret") or None)


def remote_subscriptions(client: PCOClient) -> list[Subscription]:
    """Every subscription PCO lists for this account (any URL)."""
    path, _ = _endpoint(client)
    return [_subscription(r) for r in client.iter_records(path, check_params=False)]


def subscribe(client: PCOClient, engine: sa.Engine, url: str,
              events: Sequence[str] = SUBSCRIBED_EVENTS) -> SubscribeReport:
    """Make PCO deliver every one of `events` to `url`, and store the subscriptions with their secrets."""
    path, type_ = _endpoint(client)
    existing = {s.event_name: s for s in remote_subscriptions(client) if s.url == url}
    report = SubscribeReport()
    for event_name in events:
        current = existing.get(event_name)
        if current is None:
            created = client.post(path, resource_body(type_, {"name": event_name, "url": url, "active": True}))
            report.created.append(_subscription(created))
        elif not current.active:
            updated = client.patch(f"{path}/{current.pco_id}", resource_body(type_, {"active": True}, id=current.pco_id))
            report.reactivated.append(_subscription(updated))
        else:
            report.unchanged.append(current)
    store_subscriptions(engine, report.all)
    return report


def store_subscriptions(engine: sa.Engine, subscriptions: Iterable[Subscription]) -> None:
    """Upsert subscriptions by PCO id; a subscription PCO sent without its secret keeps the stored one."""
    rows = [{"pco_id": s.pco_id, "event_name": s.event_name, "url": s.url, "active": s.active, "secret": s.secret}
            for s in subscriptions]
    if not rows:
        return
    with engine.begin() as conn:
        for row in rows:
            # A subscription recreated in PCO for the same event and URL replaces the old row.
            conn.execute(sa.text(
                "DELETE FROM webhook_subscriptions WHERE event_name = :event_name AND url = :url"
                " AND pco_id <> :pco_id"), row)
            conn.execute(sa.text(
                "INSERT INTO webhook_subscriptions (pco_id, event_name, url, active, authenticity_secret)"
                " VALUES (:pco_id, :event_name, :url, :active, COALESCE(:secret, ''))"
                " ON CONFLICT (pco_id) DO UPDATE SET event_name = EXCLUDED.event_name, url = EXCLUDED.url,"
                "   active = EXCLUDED.active, updated_at = now(),"
                "   authenticity_secret = COALESCE(:secret, webhook_subscriptions.authenticity_secret)"), row)


def stored_subscriptions(conn: sa.Connection) -> list[Subscription]:
    """The stored subscriptions (secrets included: for the receiver only), by event name."""
    return [Subscription(r.pco_id, r.event_name, r.url, r.active, r.authenticity_secret or None)
            for r in conn.execute(sa.text(
                "SELECT pco_id, event_name, url, active, authenticity_secret FROM webhook_subscriptions"
                " ORDER BY event_name, url"))]


def stored_secrets(engine: sa.Engine) -> tuple[str, ...]:
    """The secrets of the stored subscriptions, for the receiver (inactive ones too: PCO may still
    be retrying deliveries made while the subscription was active)."""
    with engine.connect() as conn:
        return tuple(s.secret for s in stored_subscriptions(conn) if s.secret)
