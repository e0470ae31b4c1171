"""What PCO's delivery does to us: duplicates, replays, reordering, forgeries, garbage, a receiver restart."""

import json
import time

import httpx
import sqlalchemy as sa

from pco_pipeline.sync.reconcile import reconcile
from pco_pipeline.webhooks.envelope import delivery_document
from pco_pipeline_tests.webhooks_e2e.conftest import (
    as_new_delivery, captured_while_down, differences_from_pco, drain, inbox_rows, local_person, post_delivery,
    start_receiver, subscription_secret, wait_for_deliveries)
from pco_pipeline_tests.webhooks_e2e.test_burst import api_body, pick_people

PERSON_UPDATED = "people.v2.events.person.updated"


def failed_first_attempts(sandbox, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for d in sandbox.webhooks.deliveries() if d.status is None and d.attempt == 1) < count:
        assert time.monotonic() < deadline, "the sandbox did not try to deliver"
        time.sleep(0.02)


def test_reordered_duplicated_and_replayed_deliveries_end_at_pcos_latest_state(
        sandbox, synced, receiver, receiver_url, receiver_port, database_url, instance, resources):
    (person,) = pick_people(sandbox, synced, 1)
    receiver.stop()
    sandbox.webhooks.time_scale = 1.0  # PCO's own schedule: no retry interferes with the order below
    with sandbox.client() as api:
        for name in ("First", "Second"):
            sandbox.controls.advance_clock(60)
            assert api.patch(f"/people/v2/people/{person}", json=api_body("Person", {"last_name": name})).status_code == 200
    failed_first_attempts(sandbox, 2)
    first, second = captured_while_down(sandbox)
    secret = subscription_secret(synced, PERSON_UPDATED)

    server = start_receiver(database_url, synced, receiver_port)
    try:
        # PCO delivers the newer change first, twice, then the older one.
        assert post_delivery(receiver_url, second, secret).json() == {"stored": 1, "duplicates": 0}
        assert post_delivery(receiver_url, second, secret).json() == {"stored": 0, "duplicates": 1}
        assert post_delivery(receiver_url, first, secret).json() == {"stored": 1, "duplicates": 0}
        drained = drain(instance, resources)
        assert [run.success for run in drained.runs] == [True]
        assert local_person(synced, person).last_name == "Second"  # applied in event-time order
        assert [(r.status, r.status_reason) for r in inbox_rows(synced)] == [("applied", None), ("applied", None)]
        before = local_person(synced, person)

        # The older event again, as a new delivery (new id and token): the monotonic guard ignores it.
        replay = as_new_delivery(first)
        assert post_delivery(receiver_url, replay, secret).json() == {"stored": 1, "duplicates": 0}
        assert post_delivery(receiver_url, replay, secret).json() == {"stored": 0, "duplicates": 1}
        drain(instance, resources, cursor=drained.cursor)
    finally:
        server.stop()
    rows = inbox_rows(synced)
    assert len(rows) == 3
    assert rows[-1].status == "ignored"
    assert rows[-1].status_reason.startswith("older than the version held")
    after = local_person(synced, person)
    assert (after.last_name, after.updated_at) == ("Second", before.updated_at)  # not even touched
    assert differences_from_pco(synced, sandbox) == []


def test_forged_and_unsigned_deliveries_are_refused_and_signed_garbage_is_only_kept_aside(
        sandbox, synced, receiver, receiver_url, instance, resources):
    (person,) = pick_people(sandbox, synced, 1)
    with sandbox.client() as api:
        document = api.get(f"/people/v2/people/{person}").json()
    document["data"]["attributes"]["last_name"] = "Forged"
    document["meta"] = {"event_time": "2030-01-01T00:00:00Z", "idempotency_token": "forged-1"}
    body = json.dumps(delivery_document(PERSON_UPDATED, document, delivery_id="forged-delivery")).encode()
    assert post_delivery(receiver_url, body, "not-the-subscription-secret").status_code == 401
    unsigned = httpx.post(receiver_url, content=body, timeout=10)
    assert unsigned.status_code == 401
    secret = subscription_secret(synced, PERSON_UPDATED)
    garbage = post_delivery(receiver_url, b"{\"data\": [{\"type\": \"EventDelivery\"", secret)
    assert garbage.status_code == 200 and "not JSON" in garbage.json()["rejected"]
    not_a_delivery = post_delivery(receiver_url, json.dumps({"data": [{"type": "Person", "id": "1"}]}).encode(), secret)
    assert not_a_delivery.status_code == 200 and "EventDelivery" in not_a_delivery.json()["rejected"]

    assert inbox_rows(synced) == []
    with synced.connect() as conn:  # kept aside with why (signed by PCO), never applied
        assert conn.execute(sa.text("SELECT count(*) FROM webhook_rejections")).scalar_one() == 2
    assert drain(instance, resources).runs == []
    assert local_person(synced, person).last_name != "Forged"


def test_deliveries_that_pass_the_receiver_but_cannot_apply_end_ignored_or_quarantined_with_why(
        sandbox, synced, receiver, receiver_url, instance, resources):
    secret = subscription_secret(synced, PERSON_UPDATED)
    email = sandbox.store.all("people/emails")[0]
    with sandbox.client() as api:
        email_document = api.get(f"/people/v2/emails/{email.id}").json()
    field_datum = {"data": {"type": "FieldDatum", "id": "77", "attributes": {"value": "x"}},
                   "meta": {"event_time": "2026-01-01T00:00:00Z", "idempotency_token": "fd-1"}}
    not_subscribed = delivery_document("people.v2.events.field_datum.created", field_datum, delivery_id="d-1")
    wrong_type = delivery_document(PERSON_UPDATED, {**email_document, "meta": {"idempotency_token": "t-2"}},
                                   delivery_id="d-2")
    for document in (not_subscribed, wrong_type):
        assert post_delivery(receiver_url, json.dumps(document).encode(), secret).status_code == 200

    drained = drain(instance, resources)
    assert all(run.success for run in drained.runs)
    (ignored, quarantined) = inbox_rows(synced)
    assert ignored.status == "ignored" and "is not an event this pipeline applies" in ignored.status_reason
    assert quarantined.status == "quarantined"
    assert quarantined.status_reason == ("unreadable delivery: people.v2.events.person.updated carries a Email, "
                                         "expected a Person")
    with synced.connect() as conn:
        entry = conn.execute(sa.text(
            "SELECT direction, record_key, reason FROM sync_quarantine WHERE entity = 'webhook_inbox'")).one()
    assert (entry.direction, entry.record_key) == ("webhook", "d-2")
    assert "carries a Email" in entry.reason


def test_a_receiver_restart_mid_burst_loses_nothing(
        sandbox, synced, receiver, receiver_url, receiver_port, database_url, instance, resources):
    people = pick_people(sandbox, synced, 6)
    sandbox.controls.advance_clock(60)
    with sandbox.client() as api:
        def rename(pco_id: str, name: str) -> None:
            assert api.patch(f"/people/v2/people/{pco_id}", json=api_body("Person", {"nickname": name})).status_code == 200

        for pco_id in people[:2]:
            rename(pco_id, "Before")
        wait_for_deliveries(sandbox)
        receiver.stop(graceful=False)   # down: PCO's deliveries now fail and are retried on its schedule
        for pco_id in people[2:]:
            rename(pco_id, "During")
        assert api.post(f"/people/v2/people/{people[0]}/emails", json=api_body(
            "Email", {"address": "while.down@example.org"})).status_code == 201
        failed_first_attempts(sandbox, 4)
        server = start_receiver(database_url, synced, receiver_port)   # back, on the same URL
    try:
        sandbox.webhooks.flush()   # the retries PCO has scheduled become due now
        wait_for_deliveries(sandbox)
        drained = drain(instance, resources)
    finally:
        server.stop()
    assert all(run.success for run in drained.runs)

    events = sandbox.store.all("webhooks/events")
    assert events and all(e.attributes["status"] == "delivered" for e in events)
    rows = inbox_rows(synced)
    assert len(rows) == len(events)                      # every event stored exactly once
    assert max(r.attempt for r in rows) > 1              # some arrived only on PCO's retry
    assert {r.status for r in rows} <= {"applied", "ignored"}
    assert reconcile(synced).in_sync
    assert differences_from_pco(synced, sandbox) == []
    with synced.connect() as conn:
        nicknames = dict(conn.execute(sa.text("SELECT pco_id, nickname FROM people WHERE pco_id = ANY(:p)"),
                                      {"p": people}).all())
    assert nicknames == {**{p: "Before" for p in people[:2]}, **{p: "During" for p in people[2:]}}
