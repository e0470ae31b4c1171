"""The sandbox's PCO-shaped deliveries, sent over real HTTP, land in the inbox exactly once."""

from __future__ import annotations

import json

import sqlalchemy as sa

from pco_pipeline.webhooks.app import create_app
from pco_pipeline.webhooks.server import BackgroundServer, bind_socket
from pco_pipeline.webhooks.settings import ReceiverSettings
from pco_pipeline_tests.sandbox.conftest import make_sandbox


def test_sandbox_deliveries_for_every_subscription_are_stored_once(database_url, engine):
    with make_sandbox(webhook_time_scale=0.0001) as sandbox:
        # The subscriptions need the receiver's URL, and the receiver their secrets.
        with bind_socket("127.0.0.1", 0) as free:
            port = free.getsockname()[1]
        url = f"http://127.0.0.1:{port}/api/pco/webhook"
        subscriptions = sandbox.webhooks.subscribe_all(url)
        assert len(subscriptions) > 1
        settings = ReceiverSettings(secrets=tuple(s.attributes["authenticity_secret"] for s in subscriptions))
        with BackgroundServer(create_app(database_url, settings), port=port), sandbox.client() as client:
            client.patch("/people/v2/people/101", json={"data": {"type": "Person", "attributes": {"nickname": "Countess"}}})
            client.post("/people/v2/people/103/emails", json={"data": {"type": "Email", "attributes": {
                "address": "emile@zola.example"}}})
            client.delete("/people/v2/people/105")
            assert sandbox.webhooks.wait_idle(30)

    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT event_name, resource_type, resource_id, attempt, idempotency_token, "
                                    "event_time, raw_body FROM webhook_inbox ORDER BY id")).all()
    assert [(r.event_name, r.resource_type) for r in rows] == [
        ("people.v2.events.person.updated", "Person"),
        ("people.v2.events.email.created", "Email"),
        ("people.v2.events.person.updated", "Person"),
        ("people.v2.events.person.destroyed", "Person"),
    ]
    assert rows[0].resource_id == "101" and rows[3].resource_id == "105"
    assert all(r.attempt == 1 for r in rows)  # every first attempt was answered 200
    assert all(r.idempotency_token and r.event_time for r in rows[:3])
    assert rows[3].idempotency_token is None  # destroyed payloads carry meta.parent only
    assert json.loads(bytes(rows[0].raw_body))["data"][0]["type"] == "EventDelivery"
