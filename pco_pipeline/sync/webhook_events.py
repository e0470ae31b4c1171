"""Webhook deliveries as events the sync applies: which ones, what they say, and in what order.

An inbox row keeps the exact body PCO signed: an EventDelivery whose `payload` is a JSON string
holding the changed resource as a JSON:API document. `parse_event` turns a row into a
`WebhookEvent` (the event name split into the landing resource it changes and the action, the
payload resource, the event time) or says why the row cannot be one.

Order: events apply in PCO's event time. A destroyed event carries no time (its meta has only
`parent`), so it takes the latest event time among the rows received before it in the batch:
it happened after everything PCO had already sent, and stays behind a delayed retry of an older
change that arrives after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType

from pco_pipeline.pco import bounded_json
from pco_pipeline.pco.jsonapi import DocumentError, Resource, parse_document
from pco_pipeline.sync.catalog import ResourceSpec
from pco_pipeline.sync.registry import DEFAULT, Registry
from pco_pipeline.sync.webhook_inbox import InboxRow

# The event subjects this pipeline applies → the landing resource each changes, and every event
# name it subscribes to (one PCO subscription each): declared per resource in the catalog
# (`ResourceSpec.webhooks`). Check-Ins and Calendar have none (PCO sends none for check-ins).
EVENT_RESOURCES: Mapping[str, str] = MappingProxyType(
    {subject: spec.name for subject, spec in DEFAULT.event_resources.items()})
SUBSCRIBED_EVENTS: tuple[str, ...] = DEFAULT.subscribed_events

_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


class UnreadableDelivery(ValueError):
    """The stored body holds no usable event; it never will (the reason says why)."""


class NotApplied(ValueError):
    """A readable event this pipeline does not apply (the reason says which and why)."""


@dataclass(frozen=True)
class WebhookEvent:
    row: InboxRow
    name: str                   # people.v2.events.person.updated
    subject: str                # people.v2.events.person: the kind of record, across actions
    action: str                 # created | updated | destroyed
    spec: ResourceSpec          # the landing resource it changes
    resource: Resource          # the payload's record (no attributes when destroyed)
    event_time: datetime | None

    @property
    def thin(self) -> bool:
        """A created/updated payload without the record's attributes (or its updated_at)."""
        if self.action == "destroyed":
            return False
        if not self.resource.attributes:
            return True
        return self.spec.cursor_attribute == "updated_at" and not self.resource.attributes.get("updated_at")

    def describe(self) -> str:
        return f"{self.name} {self.resource.type} {self.resource.id} (inbox row {self.row.id})"


def parse_event(row: InboxRow, registry: Registry = DEFAULT) -> WebhookEvent:
    """The event stored in `row`, for a pipeline applying `registry`'s webhook events. Raises
    UnreadableDelivery or NotApplied, whatever the row holds (its body and payload are decoded
    within bounded_json's limits: rows written before the receiver checked them may be nested
    deeper, or hold longer numbers, than Python decodes)."""
    try:
        document = bounded_json.loads(row.raw_body)
    except bounded_json.JSONLimitExceeded as exc:
        raise UnreadableDelivery(f"the stored body {exc.reason}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UnreadableDelivery("the stored body is not JSON") from None
    items = document.get("data") if isinstance(document, dict) else None
    items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list):
        raise UnreadableDelivery("the stored body has no EventDelivery data")
    delivery = next((i for i in items if isinstance(i, dict) and str(i.get("id")) == row.delivery_id), None)
    if delivery is None and len(items) == 1 and isinstance(items[0], dict):
        delivery = items[0]  # the id came from the X-PCO-Webhooks-Event header
    if delivery is None:
        raise UnreadableDelivery(f"the stored body holds no delivery {row.delivery_id}")
    attributes = delivery.get("attributes")
    attributes = attributes if isinstance(attributes, dict) else {}

    subject, _, action = row.event_name.rpartition(".")
    spec = registry.event_resources.get(subject)
    if spec is None or row.event_name not in registry.subscribed_events:
        raise NotApplied(f"{row.event_name} is not an event this pipeline applies "
                         f"(it applies {', '.join(sorted(registry.event_resources))})")
    try:
        payload = bounded_json.loads(attributes.get("payload") or "")
        parsed = parse_document(payload)
    except bounded_json.JSONLimitExceeded as exc:
        raise UnreadableDelivery(f"the payload {exc.reason}") from None
    except (TypeError, json.JSONDecodeError, DocumentError):
        raise UnreadableDelivery("the payload is not a JSON:API document") from None
    if not parsed.records:
        reason = parsed.errors[0].reason if parsed.errors else "no data"
        raise UnreadableDelivery(f"the payload names no readable record ({reason})")
    resource = parsed.records[0]
    if resource.type != spec.pco_type:
        raise UnreadableDelivery(f"{row.event_name} carries a {resource.type}, expected a {spec.pco_type}")
    return WebhookEvent(row=row, name=row.event_name, subject=subject, action=action, spec=spec,
                        resource=resource, event_time=row.event_time)


def in_event_order(events: Iterable[WebhookEvent]) -> list[WebhookEvent]:
    """`events` in the order they happened in PCO (see the module doc for timeless events)."""
    keyed = []
    latest = _EARLIEST
    for event in sorted(events, key=lambda e: e.row.id):  # the order they were received
        if event.event_time is not None:
            latest = max(latest, event.event_time)
        keyed.append(((event.event_time or latest), event.row.id, event))
    return [event for *_, event in sorted(keyed, key=lambda k: (k[0], k[1]))]
