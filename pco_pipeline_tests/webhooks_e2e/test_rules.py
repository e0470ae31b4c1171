"""The application rules one by one: re-reads of thin, stale and resurrecting payloads; failures
retried with backoff then quarantined; a run that dies holding rows."""

import json
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from pco_pipeline.sync.webhook_apply import ApplySettings, apply_inbox_rows
from pco_pipeline.sync.webhook_inbox import RetryPolicy, claim
from pco_pipeline.webhooks.envelope import delivery_document
from pco_pipeline_tests.webhooks_e2e.conftest import (
    differences_from_pco, inbox_rows, local_person, post_delivery, subscription_secret, wait_for_deliveries)
from pco_pipeline_tests.webhooks_e2e.test_burst import pick_people

PERSON_UPDATED = "people.v2.events.person.updated"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def send_person_updated(sandbox, engine, url: str, document: dict, *, event_time: datetime, delivery_id: str) -> None:
    """Deliver a person.updated carrying `document` (a Person as the API returns it), signed like PCO's."""
    payload = {**document, "included": [], "meta": {"event_time": iso(event_time), "idempotency_token": delivery_id}}
    body = json.dumps(delivery_document(PERSON_UPDATED, payload, delivery_id=delivery_id)).encode()
    assert post_delivery(url, body, subscription_secret(engine, PERSON_UPDATED)).status_code == 200


def all_ids(engine) -> list[int]:
    return [row.id for row in inbox_rows(engine)]


def test_thin_stale_and_resurrecting_payloads_are_reread_from_pco(sandbox, synced, receiver, receiver_url, pco):
    thin, late, gone, unlanded = pick_people(sandbox, synced, 4)
    with sandbox.client() as api:
        documents = {p: api.get(f"/people/v2/people/{p}").json() for p in (thin, late, gone)}
    now = datetime.now(timezone.utc)
    # Changes PCO made without an event reaching us (updated_at misses some changes, deliveries get lost).
    sandbox.controls.update_record("people/people", thin, {"last_name": "Quietly-Changed"}, touch=False)
    sandbox.controls.update_record("people/people", late, {"last_name": "Changed-Since",
                                                          "updated_at": iso(now + timedelta(minutes=1))}, touch=False)
    sandbox.controls.delete_person(gone)
    # A person the landing never held (say, created before the subscriptions) gets a new email.
    with synced.begin() as conn:
        conn.execute(sa.text("DELETE FROM pco_landing WHERE resource = 'people/people' AND pco_id = :p"),
                     {"p": unlanded})
    sandbox.controls.create("people/emails", {"address": "first.seen@example.org"}, parent_id=unlanded)
    wait_for_deliveries(sandbox)
    apply_inbox_rows(synced, all_ids(synced), pco=pco.get_client)
    assert local_person(synced, gone).is_active is False
    email = next(r for r in inbox_rows(synced) if r.event_name == "people.v2.events.email.created")
    assert (email.status, email.status_reason) == ("applied", f"re-read person {unlanded}: it was not landed yet")

    thin_document = {"data": {**documents[thin]["data"], "attributes": {}}}
    send_person_updated(sandbox, synced, receiver_url, thin_document, event_time=now, delivery_id="thin")
    send_person_updated(sandbox, synced, receiver_url, documents[late], event_time=now - timedelta(hours=1),
                        delivery_id="late")
    send_person_updated(sandbox, synced, receiver_url, documents[gone], event_time=now, delivery_id="resurrecting")
    report = apply_inbox_rows(synced, all_ids(synced), pco=pco.get_client)

    assert report.rereads >= 3
    reasons = {row.resource_id: (row.status, row.status_reason) for row in inbox_rows(synced)[-3:]}
    assert reasons[thin] == ("applied", "re-read: the payload is thin")
    assert reasons[late] == ("applied", "re-read: it was delivered more than 15 min after it happened")
    assert reasons[gone] == ("ignored", "PCO no longer has it (re-read because it would bring back a record held "
                                        "as destroyed: 404)")
    assert local_person(synced, thin).last_name == "Quietly-Changed"
    assert local_person(synced, late).last_name == "Changed-Since"
    assert local_person(synced, gone).is_active is False
    assert differences_from_pco(synced, sandbox) == []


def test_a_failing_event_is_retried_with_backoff_then_quarantined(sandbox, synced, receiver, pco):
    created = sandbox.controls.create_person(first_name="Ines", last_name="Failwell")
    sandbox.controls.update_record("people/people", created.id, {"nickname": "Nessa"})
    wait_for_deliveries(sandbox)
    # A created person is re-read (its payload has no emails); PCO fails that read.
    sandbox.controls.inject_fault("error", status=500, path_prefix=f"/people/v2/people/{created.id}")
    settings = ApplySettings(retry=RetryPolicy(max_tries=2, first_backoff=timedelta(seconds=30)))
    row_id, update_id = all_ids(synced)

    first = apply_inbox_rows(synced, [row_id, update_id], pco=pco.get_client, settings=settings)
    assert (first.claimed, first.failed) == (2, 2)
    with synced.connect() as conn:
        row, update = conn.execute(sa.text("SELECT status, status_reason, tries, next_try_at - now() AS wait"
                                           " FROM webhook_inbox ORDER BY id")).all()
    assert (row.status, row.tries) == ("failed", 1)
    assert row.status_reason.startswith("PCOServerError") and "500" in row.status_reason
    assert timedelta(seconds=25) < row.wait <= timedelta(seconds=30)
    # The update of the same person does not overtake the failed create.
    assert (update.status, update.status_reason) == (
        "failed", f"waits for inbox row {row_id}, an earlier event of this record that failed")
    assert apply_inbox_rows(synced, [row_id, update_id], pco=pco.get_client, settings=settings).claimed == 0

    with synced.begin() as conn:  # the backoff is over
        conn.execute(sa.text("UPDATE webhook_inbox SET next_try_at = now()"))
    second = apply_inbox_rows(synced, [row_id, update_id], pco=pco.get_client, settings=settings)
    assert second.quarantined == 2
    with synced.connect() as conn:
        row = conn.execute(sa.text("SELECT status, status_reason, tries, next_try_at FROM webhook_inbox"
                                   " WHERE id = :i"), {"i": row_id}).one()
        entry = conn.execute(sa.text("SELECT reason, local_id FROM sync_quarantine"
                                     " WHERE entity = 'webhook_inbox' AND resolved_at IS NULL ORDER BY local_id")).first()
        local = conn.execute(sa.text("SELECT count(*) FROM people WHERE pco_id = :p"), {"p": created.id}).scalar()
    assert (row.status, row.tries, row.next_try_at) == ("quarantined", 2, None)
    assert row.status_reason.startswith("gave up after 2 tries; last error: PCOServerError")
    assert entry.local_id == row_id and "could not be applied" in entry.reason
    assert local == 0


def test_rows_held_by_a_run_that_died_are_applied_once_its_lease_ends(sandbox, synced, receiver, pco):
    (person,) = pick_people(sandbox, synced, 1)
    sandbox.controls.update_record("people/people", person, {"nickname": "Lease"})
    wait_for_deliveries(sandbox)
    ids = all_ids(synced)
    assert len(claim(synced, ids).rows) == 1  # a run took the row, then died before recording anything
    assert apply_inbox_rows(synced, ids, pco=pco.get_client).claimed == 0
    with synced.begin() as conn:  # the lease ends
        conn.execute(sa.text("UPDATE webhook_inbox SET next_try_at = now()"))
    report = apply_inbox_rows(synced, ids, pco=pco.get_client)
    assert (report.claimed, report.applied) == (1, 1)
    assert inbox_rows(synced)[0].tries == 2
    with synced.connect() as conn:
        assert conn.execute(sa.text("SELECT nickname FROM people WHERE pco_id = :p"), {"p": person}).scalar() == "Lease"
