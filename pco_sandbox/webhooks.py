"""Webhook subscriptions and deliveries, as PCO sends them.

One subscription = one event name + one URL + its own `authenticity_secret`. Every change (API
writes, which echo back to their own author, and the sandbox controls) becomes, per active
subscription to its event name, an Event (`webhooks/events`, status pending → delivered | failed)
delivered by a background thread:

    POST <url>
    Content-Type: application/json
    X-PCO-Webhooks-Authenticity: hex(HMAC-SHA256(authenticity_secret, raw body))
    X-PCO-Webhooks-Event: <event uuid>      X-PCO-Webhooks-Attempt: <n>

    {"data": [{"id": "<event uuid>", "type": "EventDelivery",
               "attributes": {"name": "people.v2.events.person.updated", "attempt": n,
                              "payload": "<the resource document as a JSON string>"},
               "relationships": {"organization": {"data": {"type": "Organization", "id": "…"}}}}]}

The payload is the resource as a single GET returns it, plus `meta.event_time` and
`meta.idempotency_token`; a destroyed payload has no attributes and meta only `parent`.
Any 2xx is success. Anything else (or no answer) is retried after 30 s, 1 m, 2 m, … 17 h, then
daily for four days (16 retries, PCO's schedule), each delay multiplied by `time_scale`; after the
last the subscription is deactivated. A 410 deactivates it at once. Each attempt is recorded as
a Delivery (`webhooks/deliveries`) with the request and response.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx

from pco_sandbox import errors
from pco_sandbox.clock import Clock
from pco_sandbox.schema import WEBHOOK_EVENT_NAMES, Kind
from pco_sandbox.store import Record, Store

log = logging.getLogger(__name__)

RETRY_SCHEDULE_SECONDS = (30, 60, 120, 240, 480, 960, 1920, 3840, 7560, 15120, 30600, 61200,
                          86400, 86400, 86400, 86400)
SUBSCRIPTIONS = "webhooks/subscriptions"
EVENTS = "webhooks/events"
DELIVERIES = "webhooks/deliveries"


def sign(secret: str, body: bytes) -> str:
    """X-PCO-Webhooks-Authenticity: lowercase hex HMAC-SHA256 of the exact body bytes."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(order=True)
class _Job:
    due: float
    sequence: int
    event_id: str = field(compare=False)
    attempt: int = field(compare=False)


@dataclass(frozen=True)
class DeliveryRecord:
    """One delivery attempt, for tests and the controls."""

    event_name: str
    url: str
    attempt: int
    status: int | None        # HTTP status, None when the receiver could not be reached
    body: bytes
    headers: dict[str, str]
    event_id: str
    subscription_id: str


class WebhookHub:
    def __init__(self, store: Store, clock: Clock, *, organization_id: str,
                 render_payload: Callable[[Kind, Record, str], dict[str, Any]],
                 time_scale: float = 1.0, timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        """`render_payload(kind, record, action)` gives the resource document for an event."""
        self.store = store
        self.clock = clock
        self.organization_id = organization_id
        self.render_payload = render_payload
        self.time_scale = time_scale
        self.timeout = timeout
        self.transport = transport
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._sequence = itertools.count()
        self._in_flight = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._log: list[DeliveryRecord] = []
        self._load_available_events()

    def _load_available_events(self) -> None:
        resources = []
        for index, name in enumerate(WEBHOOK_EVENT_NAMES, start=1):
            app, version, _, resource, action = name.split(".")
            resources.append({"type": "AvailableEvent", "id": str(index),
                              "attributes": {"name": name, "app": app, "version": version, "type": "resource",
                                             "resource": resource, "action": action}})
        self.store.load({"webhooks/available_events": resources})

    # --- subscriptions ----------------------------------------------------------------------------

    def subscribe(self, name: str, url: str, *, active: bool = True, application_id: str = "sandbox") -> Record:
        """Create a subscription (what the API's POST does); the record carries its secret."""
        problems = self._validate(name, url)
        if problems:
            raise errors.unprocessable(problems)
        now = self.clock.timestamp()
        record = Record("Subscription", self.store.next_id(SUBSCRIPTIONS),
                        {"active": bool(active), "application_id": application_id,
                         "authenticity_secret": secrets.token_hex(32), "created_at": now, "name": name,
                         "updated_at": now, "url": url}, {})
        return self.store.insert(SUBSCRIPTIONS, record)

    def subscribe_all(self, url: str, *, prefix: str = "people.v2.events.") -> list[Record]:
        """One subscription per event name starting with `prefix`, all delivering to `url`."""
        return [self.subscribe(name, url) for name in WEBHOOK_EVENT_NAMES if name.startswith(prefix)]

    def _validate(self, name: Any, url: Any) -> list[dict[str, Any]]:
        problems = []
        if name not in WEBHOOK_EVENT_NAMES:
            problems.append(errors.invalid_attribute("name", "is not an available event", "Subscription"))
        parsed = urlparse(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            problems.append(errors.invalid_attribute("url", "must be an http(s) URL", "Subscription"))
        if not problems and any(s.attributes["name"] == name and s.attributes["url"] == url
                                for s in self.store.all(SUBSCRIPTIONS)):
            problems.append(errors.invalid_attribute("name", "has already been taken for this url", "Subscription"))
        return problems

    def create_from_api(self, data: dict[str, Any], application_id: str) -> Record:
        attributes = data["attributes"]
        forbidden = [errors.forbidden_attribute(n, "Subscription") for n in attributes if n not in ("name", "url", "active")]
        if forbidden:
            raise errors.unprocessable(forbidden)
        return self.subscribe(attributes.get("name"), attributes.get("url"),
                              active=attributes.get("active", True) is not False, application_id=application_id)

    def update_from_api(self, record: Record, data: dict[str, Any]) -> Record:
        """PATCH: only `active` is assignable."""
        attributes = data["attributes"]
        forbidden = [errors.forbidden_attribute(n, "Subscription") for n in attributes if n != "active"]
        if forbidden:
            raise errors.unprocessable(forbidden)
        if "active" not in attributes or bool(attributes["active"]) == record.attributes["active"]:
            return record
        return self._set_subscription(record, active=bool(attributes["active"]))

    def rotate_secret(self, record: Record) -> Record:
        return self._set_subscription(record, authenticity_secret=secrets.token_hex(32))

    def delete_subscription(self, record: Record) -> None:
        with self.store.lock:
            for event in list(self.store.children(EVENTS, "subscription", record.id)):
                for delivery in list(self.store.children(DELIVERIES, "event", event.id)):
                    self.store.delete(DELIVERIES, delivery.id)
                self.store.delete(EVENTS, event.id)
            self.store.delete(SUBSCRIPTIONS, record.id)

    def _set_subscription(self, record: Record, **attributes: Any) -> Record:
        with self.store.lock:
            current = self.store.get(SUBSCRIPTIONS, record.id)
            if current is None:
                return record
            updated = current.copy()
            updated.attributes.update(attributes, updated_at=self.clock.timestamp())
            return self.store.replace(SUBSCRIPTIONS, updated)

    # --- events -----------------------------------------------------------------------------------

    def emit(self, kind: Kind, record: Record, action: str) -> None:
        """Queue deliveries of `<kind's webhook resource>.<action>` to every active subscriber."""
        if not kind.webhook_resource:
            return
        name = f"{kind.webhook_resource}.{action}"
        with self.store.lock:
            subscribers = [s for s in self.store.all(SUBSCRIPTIONS)
                           if s.attributes["name"] == name and s.attributes["active"]]
            if not subscribers:
                return
            document = self.render_payload(kind, record, action)
            now = self.clock.timestamp()
            event_ids = []
            for subscription in subscribers:
                meta = dict(document.get("meta", {}))
                if action != "destroyed":
                    meta["event_time"] = now
                    meta["idempotency_token"] = str(uuid.uuid4())
                payload = json.dumps({**document, "meta": meta}, separators=(",", ":"), ensure_ascii=False)
                event = Record("Event", self.store.next_id(EVENTS),
                               {"created_at": now, "payload": payload, "status": "pending", "updated_at": now,
                                "uuid": str(uuid.uuid4()), "name": name},
                               {"subscription": ("Subscription", subscription.id)})
                self.store.insert(EVENTS, event)
                event_ids.append(event.id)
        with self._cond:
            for event_id in event_ids:
                heapq.heappush(self._queue, _Job(time.monotonic(), next(self._sequence), event_id, 1))
            self._ensure_thread()
            self._cond.notify_all()

    def redeliver(self, event: Record) -> None:
        self._set_event(event.id, "pending")
        with self._cond:
            attempts = len(self.store.children(DELIVERIES, "event", event.id))
            heapq.heappush(self._queue, _Job(time.monotonic(), next(self._sequence), event.id, attempts + 1))
            self._ensure_thread()
            self._cond.notify_all()

    def ignore(self, event: Record) -> None:
        status = event.attributes.get("status")
        self._set_event(event.id, f"ignored_{status}" if status in ("failed", "skipped", "duplicated") else str(status))
        with self._cond:
            self._queue = [job for job in self._queue if job.event_id != event.id]
            heapq.heapify(self._queue)

    # --- the sender -----------------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="pco-sandbox-webhooks", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            while True:
                with self._cond:
                    while not self._stopping and (not self._queue or self._queue[0].due > time.monotonic()):
                        wait = None if not self._queue else max(0.0, self._queue[0].due - time.monotonic())
                        self._cond.wait(wait)
                    if self._stopping:
                        return
                    job = heapq.heappop(self._queue)
                    self._in_flight += 1
                try:
                    self._attempt(client, job)
                except Exception:  # a sandbox bug must not kill the sender; report it and carry on
                    log.exception("webhook delivery of event %s failed inside the sandbox", job.event_id)
                finally:
                    with self._cond:
                        self._in_flight -= 1
                        self._cond.notify_all()

    def _attempt(self, client: httpx.Client, job: _Job) -> None:
        with self.store.lock:
            event = self.store.get(EVENTS, job.event_id)
            subscription = self.store.get(SUBSCRIPTIONS, next(iter(event.rel_ids("subscription")), "")) if event else None
            if event is None or subscription is None:
                return
            if not subscription.attributes["active"]:
                self._set_event(event.id, "skipped")
                return
            secret, url = subscription.attributes["authenticity_secret"], subscription.attributes["url"]
            name = event.attributes["name"]
            envelope = {"data": [{"id": event.attributes["uuid"], "type": "EventDelivery",
                                  "attributes": {"name": name, "attempt": job.attempt,
                                                 "payload": event.attributes["payload"]},
                                  "relationships": {"organization": {"data": {"type": "Organization",
                                                                              "id": self.organization_id}}}}]}
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "PCO-Webhooks",
                   "X-PCO-Webhooks-Authenticity": sign(secret, body),
                   "X-PCO-Webhooks-Event": event.attributes["uuid"], "X-PCO-Webhooks-Attempt": str(job.attempt)}
        started = time.monotonic()
        status: int | None = None
        response_headers: dict[str, str] = {}
        response_body = ""
        try:
            response = client.post(url, content=body, headers=headers)
            status, response_headers, response_body = response.status_code, dict(response.headers), response.text
        except httpx.HTTPError as exc:
            response_body = f"{type(exc).__name__}: {exc}"
        timing = time.monotonic() - started
        with self._cond:
            self._log.append(DeliveryRecord(name, url, job.attempt, status, body, headers, event.id, subscription.id))
        now = self.clock.timestamp()
        self.store.insert(DELIVERIES, Record("Delivery", self.store.next_id(DELIVERIES), {
            "created_at": now, "updated_at": now, "object_url": url, "status": status,
            "request_body": body.decode(), "request_headers": json.dumps(headers),
            "response_body": response_body[:10_000], "response_headers": json.dumps(response_headers),
            "timing": round(timing, 6)}, {"event": ("Event", event.id)}))
        if status is not None and 200 <= status < 300:
            self._set_event(event.id, "delivered")
        elif status == 410:
            self._set_event(event.id, "failed")
            self._set_subscription(subscription, active=False)
        elif job.attempt > len(RETRY_SCHEDULE_SECONDS):
            self._set_event(event.id, "failed")
            self._set_subscription(subscription, active=False)
        else:
            delay = RETRY_SCHEDULE_SECONDS[job.attempt - 1] * self.time_scale
            with self._cond:
                heapq.heappush(self._queue, _Job(time.monotonic() + delay, next(self._sequence), event.id,
                                                 job.attempt + 1))

    def _set_event(self, event_id: str, status: str) -> None:
        with self.store.lock:
            event = self.store.get(EVENTS, event_id)
            if event is not None and event.attributes["status"] != status:
                updated = event.copy()
                updated.attributes.update(status=status, updated_at=self.clock.timestamp())
                self.store.replace(EVENTS, updated)

    # --- test helpers -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Make every scheduled retry due now (skip the waiting, keep the attempts)."""
        with self._cond:
            now = time.monotonic()
            for job in self._queue:
                job.due = now
            heapq.heapify(self._queue)
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or in flight (retries scheduled later count as queued)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._in_flight

    def deliveries(self) -> list[DeliveryRecord]:
        """Every attempt made so far, oldest first."""
        with self._cond:
            return list(self._log)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
