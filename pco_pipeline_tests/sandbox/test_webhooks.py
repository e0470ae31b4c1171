"""Webhooks: subscriptions through the API (both versions), signed deliveries, retries, 410."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from pco_sandbox.webhooks import RETRY_SCHEDULE_SECONDS
from pco_pipeline_tests.sandbox.conftest import RECEIVER, make_sandbox


def subscribe(client, name, url=RECEIVER, version=None):
    headers = {"X-PCO-API-Version": version} if version else {}
    path = "/webhooks/v2/webhook_subscriptions" if version else "/webhooks/v2/subscriptions"
    return client.post(path, headers=headers, json={"data": {"attributes": {"name": name, "url": url}}})


# --- the subscription API ---------------------------------------------------------------------------

def test_subscriptions_by_version(hooked):
    with hooked.client() as client:
        old = subscribe(client, "people.v2.events.person.created")
        assert old.status_code == 201
        data = old.json()["data"]
        assert data["type"] == "Subscription" and len(data["attributes"]["authenticity_secret"]) == 64
        assert client.get("/webhooks/v2/webhook_subscriptions").status_code == 404
        new = client.get("/webhooks/v2/webhook_subscriptions", headers={"X-PCO-API-Version": "2022-10-20"}).json()
        assert [(s["type"], s["id"]) for s in new["data"]] == [("WebhookSubscription", data["id"])]
        assert client.get("/webhooks/v2/subscriptions", headers={"X-PCO-API-Version": "2022-10-20"}).status_code == 404


def test_subscription_validation_patch_rotate_delete(hooked):
    with hooked.client() as client:
        assert subscribe(client, "people.v2.events.nothing.created").status_code == 422
        assert subscribe(client, "people.v2.events.email.created", url="ftp://x").status_code == 422
        data = subscribe(client, "people.v2.events.email.created").json()["data"]
        assert subscribe(client, "people.v2.events.email.created").status_code == 422  # same name and url
        path = f"/webhooks/v2/subscriptions/{data['id']}"
        renamed = client.patch(path, json={"data": {"attributes": {"name": "people.v2.events.email.updated"}}})
        assert renamed.status_code == 422
        paused = client.patch(path, json={"data": {"attributes": {"active": False}}}).json()["data"]
        assert paused["attributes"]["active"] is False
        rotated = client.post(f"{path}/rotate_secret").json()["data"]["attributes"]["authenticity_secret"]
        assert rotated != data["attributes"]["authenticity_secret"]
        assert client.delete(path).status_code == 204 and client.get(path).status_code == 404
        names = [e["attributes"]["name"] for e in client.get("/webhooks/v2/available_events",
                                                              params={"per_page": 100}).json()["data"]]
        assert "people.v2.events.person_merger.created" in names and "people.v2.events.household.destroyed" in names


# --- deliveries ----------------------------------------------------------------------------------

def test_api_writes_echo_back_signed_with_the_subscriptions_secret(hooked, receiver):
    with hooked.client() as client:
        created_sub = subscribe(client, "people.v2.events.person.updated").json()["data"]
        secret = created_sub["attributes"]["authenticity_secret"]
        client.patch("/people/v2/people/101", json={"data": {"type": "Person", "attributes": {"nickname": "Countess"}}})
        assert hooked.webhooks.wait_idle(5)
    [request] = receiver.requests
    assert request.headers["x-pco-webhooks-authenticity"] == hmac.new(
        secret.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["x-pco-webhooks-attempt"] == "1"
    delivery = json.loads(request.content)["data"][0]
    assert delivery["type"] == "EventDelivery" and delivery["attributes"]["name"] == "people.v2.events.person.updated"
    assert request.headers["x-pco-webhooks-event"] == delivery["id"]
    assert delivery["relationships"]["organization"]["data"] == {"type": "Organization", "id": hooked.organization.id}
    payload = json.loads(delivery["attributes"]["payload"])  # a JSON string, as PCO sends it
    assert payload["data"]["attributes"]["nickname"] == "Countess"
    assert payload["included"] == [] and payload["meta"]["event_time"] == "2026-03-10T18:00:00Z"
    assert payload["meta"]["idempotency_token"]


def test_contact_edits_fire_their_own_event_and_person_updated(hooked, receiver):
    hooked.webhooks.subscribe_all(RECEIVER)
    with hooked.client() as client:
        client.post("/people/v2/people/103/emails", json={"data": {"type": "Email", "attributes": {
            "address": "emile@zola.example"}}})
        client.delete("/people/v2/people/105")
    assert hooked.webhooks.wait_idle(5)
    names = [d["attributes"]["name"] for d in receiver.deliveries()]
    assert names == ["people.v2.events.email.created", "people.v2.events.person.updated",
                     "people.v2.events.person.destroyed"]
    destroyed = json.loads(receiver.deliveries()[-1]["attributes"]["payload"])
    assert set(destroyed) == {"data", "meta"} and set(destroyed["meta"]) == {"parent"}
    assert "attributes" not in destroyed["data"] and destroyed["data"]["id"] == "105"


def test_household_membership_changes_fire_nothing(hooked, receiver):
    hooked.webhooks.subscribe_all(RECEIVER)
    with hooked.client() as client:
        client.post("/people/v2/households/5001/household_memberships", json={"data": {
            "attributes": {"pending": False}, "relationships": {"person": {"data": {"type": "Person", "id": "103"}}}}})
    assert hooked.webhooks.wait_idle(5) and receiver.requests == []


def test_failures_are_retried_on_pcos_schedule_then_succeed(receiver):
    receiver.statuses = [500, 503]
    with make_sandbox(webhook_transport=httpx.MockTransport(receiver), webhook_time_scale=0.0005) as sandbox:
        sandbox.webhooks.subscribe("people.v2.events.person.created", RECEIVER)
        sandbox.controls.create_person(first_name="Retry", last_name="Me")
        assert sandbox.webhooks.wait_idle(5)
        attempts = [(d.attempt, d.status) for d in sandbox.webhooks.deliveries()]
        assert attempts == [(1, 500), (2, 503), (3, 200)]
        bodies = {json.loads(r.content)["data"][0]["id"] for r in receiver.requests}
        assert len(bodies) == 1  # one event id across attempts: receivers dedupe on it
        with sandbox.client() as client:
            subscription = client.get("/webhooks/v2/subscriptions").json()["data"][0]
            events = client.get(f"/webhooks/v2/subscriptions/{subscription['id']}/events").json()["data"]
            assert [e["attributes"]["status"] for e in events] == ["delivered"]
            deliveries = client.get(f"/webhooks/v2/subscriptions/{subscription['id']}/events/{events[0]['id']}"
                                    "/deliveries").json()["data"]
            assert [d["attributes"]["status"] for d in deliveries] == [500, 503, 200]


def test_410_deactivates_the_subscription_at_once(hooked, receiver):
    receiver.statuses = [410]
    subscription = hooked.webhooks.subscribe("people.v2.events.person.created", RECEIVER)
    hooked.controls.create_person(first_name="Gone", last_name="Away")
    assert hooked.webhooks.wait_idle(5)
    assert hooked.store.get("webhooks/subscriptions", subscription.id).attributes["active"] is False
    hooked.controls.create_person(first_name="Not", last_name="Sent")
    assert hooked.webhooks.wait_idle(5) and len(receiver.requests) == 1


def test_final_failure_deactivates_after_sixteen_retries(receiver):
    receiver.statuses = [500] * 100
    # ~5.4 days of PCO retries compressed a millionfold.
    with make_sandbox(webhook_transport=httpx.MockTransport(receiver), webhook_time_scale=1e-6) as sandbox:
        subscription = sandbox.webhooks.subscribe("people.v2.events.person.created", RECEIVER)
        sandbox.controls.create_person(first_name="Never", last_name="Delivered")
        assert sandbox.webhooks.wait_idle(10)
        assert len(receiver.requests) == len(RETRY_SCHEDULE_SECONDS) + 1 == 17
        assert sandbox.store.require("webhooks/subscriptions", subscription.id).attributes["active"] is False
        [event] = sandbox.store.all("webhooks/events")
        assert event.attributes["status"] == "failed"


def test_flush_makes_a_scheduled_retry_due_now(receiver):
    receiver.statuses = [500]
    with make_sandbox(webhook_transport=httpx.MockTransport(receiver), webhook_time_scale=1.0) as sandbox:
        sandbox.webhooks.subscribe("people.v2.events.person.created", RECEIVER)
        sandbox.controls.create_person(first_name="Later", last_name="Please")
        assert not sandbox.webhooks.wait_idle(0.3)  # the retry waits 30 s
        sandbox.webhooks.flush()
        assert sandbox.webhooks.wait_idle(5)
        assert [d.status for d in sandbox.webhooks.deliveries()] == [500, 200]


def test_deliveries_over_real_http_to_a_receiver():
    received: list[tuple[dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with make_sandbox() as sandbox:
            url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
            subscription = sandbox.webhooks.subscribe("people.v2.events.person_merger.created", url)
            sandbox.controls.merge_people("101", "102")
            assert sandbox.webhooks.wait_idle(10)
    finally:
        server.shutdown()
    [(headers, body)] = received
    secret = subscription.attributes["authenticity_secret"]
    assert headers["X-PCO-Webhooks-Authenticity"] == hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    payload = json.loads(json.loads(body)["data"][0]["attributes"]["payload"])
    assert payload["data"]["type"] == "PersonMerger"
    assert payload["data"]["attributes"]["person_to_remove_id"] == "102"
