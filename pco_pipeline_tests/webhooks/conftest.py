"""Fixtures for the receiver: PCO-shaped signed deliveries and a real server on loopback."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pco_pipeline.webhooks import envelope
from pco_pipeline.webhooks.app import create_app
from pco_pipeline.webhooks.authenticity import SIGNATURE_HEADER, sign
from pco_pipeline.webhooks.server import BackgroundServer
from pco_pipeline.webhooks.settings import ReceiverSettings

# Three subscriptions, three secrets: PCO never shares one between subscriptions.
SECRETS = ("3f5c0c2e9a1b4d7e8f60a1b2c3d4e5f6", "person-updated-secret", "a9b8c7d6e5f4")
WEBHOOK_PATH = "/api/pco/webhook"


def delivery_document(*, delivery_id: str | None = None, event: str = "people.v2.events.person.updated",
                      attempt: int = 1, idempotency_token: str | None = "auto",
                      event_time: str | None = "2025-03-02T15:04:05Z", resource_type: str = "Person",
                      resource_id: str = "128945", attributes: dict[str, Any] | None = None) -> dict:
    """An EventDelivery document shaped like PCO's, its payload a JSON string."""
    meta: dict[str, Any] = {"parent": {"id": "1", "type": "Organization"}}
    if event_time is not None:
        meta["event_time"] = event_time
    if idempotency_token == "auto":
        idempotency_token = uuid.uuid4().hex
    if idempotency_token is not None:
        meta["idempotency_token"] = idempotency_token
    payload = {
        "data": {"type": resource_type, "id": resource_id,
                 "attributes": attributes if attributes is not None else {"first_name": "Ada", "last_name": "Ng"},
                 "links": {"self": f"https://api.planningcenteronline.com/people/v2/people/{resource_id}"}},
        "included": [],
        "meta": meta,
    }
    return envelope.delivery_document(event, payload, delivery_id=delivery_id or str(uuid.uuid4()),
                                      attempt=attempt)


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def signed_headers(body: bytes, secret: str = SECRETS[0]) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(body, secret), "Content-Type": "application/json"}


def post_delivery(client: httpx.Client, body: bytes, *, secret: str | None = SECRETS[0],
                  headers: dict[str, str] | None = None) -> httpx.Response:
    """POST `body` to the receiver, signed with `secret` (unsigned when None)."""
    all_headers = signed_headers(body, secret) if secret is not None else {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    return client.post(WEBHOOK_PATH, content=body, headers=all_headers)


@pytest.fixture
def settings() -> ReceiverSettings:
    return ReceiverSettings(secrets=SECRETS)


@pytest.fixture
def server(database_url: str, settings: ReceiverSettings) -> Iterator[BackgroundServer]:
    """The receiver app on this test's database, served by uvicorn on a free loopback port."""
    with BackgroundServer(create_app(database_url, settings)) as running:
        yield running


@pytest.fixture
def client(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http
