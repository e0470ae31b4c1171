"""Inbox rows that would choke the applier (kept by a receiver that did not check them, or with
values only the database refuses) end quarantined with their reason in the same run; the run
goes on and applies the good rows beside them. No PCO client is needed: none is re-read."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import sqlalchemy as sa

from pco_pipeline.sync.webhook_apply import apply_inbox_rows
from pco_pipeline.webhooks.envelope import delivery_document

HOUSEHOLD_UPDATED = "people.v2.events.household.updated"


def household_body(delivery_id: str, household_id: str, name: str, event_time: datetime) -> bytes:
    payload = {"data": {"type": "Household", "id": household_id,
                        "attributes": {"name": name, "member_count": 0, "primary_contact_name": None},
                        "relationships": {"people": {"data": []}}},
               "included": [], "meta": {"event_time": event_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                        "idempotency_token": delivery_id}}
    return json.dumps(delivery_document(HOUSEHOLD_UPDATED, payload, delivery_id=delivery_id)).encode()


def store_row(engine: sa.Engine, delivery_id: str, raw_body: bytes, resource_id: str, event_time: datetime) -> int:
    with engine.begin() as conn:
        return conn.execute(sa.text(
            "INSERT INTO webhook_inbox (event_name, delivery_id, event_time, resource_type, resource_id, raw_body)"
            " VALUES (:event, :delivery, :time, 'Household', :resource, :body) RETURNING id"),
            {"event": HOUSEHOLD_UPDATED, "delivery": delivery_id, "time": event_time, "resource": resource_id,
             "body": raw_body}).scalar_one()


def test_rows_that_would_choke_the_applier_are_quarantined_and_the_others_applied(engine):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    good = household_body("good", "7001", "Ng Household", now)
    rows = {
        "nested": store_row(engine, "nested", b'{"data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "7002", now),
        "long number": store_row(engine, "long number", good.replace(b'"good"', b"9" * 5000), "7003", now),
        "lone surrogate": store_row(engine, "lone surrogate",
                                    household_body("lone surrogate", "7004", "Ng \udc00 Household", now), "7004", now),
        "good": store_row(engine, "good", good, "7001", now),
    }

    report = apply_inbox_rows(engine, list(rows.values()))  # no PCO client: nothing here is re-read

    assert (report.claimed, report.applied, report.quarantined, report.failed) == (4, 1, 3, 0)
    with engine.connect() as conn:
        outcome = {row.delivery_id: row for row in conn.execute(sa.text(
            "SELECT delivery_id, status, status_reason, next_try_at FROM webhook_inbox"))}
        quarantined = set(conn.execute(sa.text(
            "SELECT pco_id FROM sync_quarantine WHERE entity = 'webhook_inbox' AND resolved_at IS NULL")).scalars())
        landed = conn.execute(sa.text("SELECT attributes->>'name' FROM pco_landing"
                                      " WHERE resource = 'people/households' AND pco_id = '7001'")).scalar()
    assert outcome["good"].status == "applied" and landed == "Ng Household"
    assert (outcome["nested"].status, outcome["nested"].status_reason) == (
        "quarantined", "unreadable delivery: the stored body is nested deeper than 64 levels")
    assert (outcome["long number"].status, outcome["long number"].status_reason) == (
        "quarantined", "unreadable delivery: the stored body holds a number of more than 640 digits")
    # The database refuses the name as JSON: a retry cannot change that, so no retry is scheduled.
    surrogate = outcome["lone surrogate"]
    assert surrogate.status == "quarantined" and surrogate.next_try_at is None
    assert surrogate.status_reason.startswith("the database cannot store its values: ")
    assert quarantined == {"7002", "7003", "7004"}
