"""Echo suppression: what our own pushes wrote to PCO comes back as webhooks and changes nothing."""

import sqlalchemy as sa

from pco_pipeline.sync.people_push import run_people_push
from pco_pipeline.sync.reconcile import reconcile
from pco_pipeline.sync.webhook_apply import ECHO_NOTE
from pco_pipeline_tests.webhooks_e2e.conftest import (
    as_new_delivery, differences_from_pco, drain, inbox_rows, post_delivery, subscription_secret,
    wait_for_deliveries)

CHURCH_TABLES = {
    "people": "id, pco_id, first_name, last_name, nickname, birthdate, is_active, pco_updated_at, updated_at",
    "person_emails": "id, person_id, pco_id, address, location, is_primary, updated_at",
    "person_phones": "id, person_id, pco_id, number, e164, location, is_primary, updated_at",
    "families": "id, pco_id, name, street_line_1, city, updated_at",
    "family_members": "family_id, person_id, role, is_primary_contact, updated_at",
    "group_membership": "id, group_id, person_id, pco_id, updated_at",
}


def church_snapshot(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {table: [tuple(r) for r in conn.execute(sa.text(f"SELECT {columns} FROM {table} ORDER BY 1, 2"))]
                for table, columns in CHURCH_TABLES.items()}


def test_echoes_of_our_pushes_write_nothing_and_never_undo_a_later_pco_change(
        sandbox, synced, receiver, receiver_url, pco, instance, resources):
    with synced.connect() as conn:
        unlinked = conn.execute(sa.text("SELECT count(*) FROM people WHERE pco_id IS NULL AND merged_into_id IS NULL"
                                        )).scalar()
    pushed = run_people_push(synced, pco.get_client(), run_id="push-before-echoes")
    assert pushed.counts.totals()["created"] > 0 and unlinked > 0
    wait_for_deliveries(sandbox)
    before = church_snapshot(synced)
    sandbox.controls.reset_request_log()

    drained = drain(instance, resources)
    assert drained.runs and all(run.success for run in drained.runs)
    assert church_snapshot(synced) == before          # not one church row written
    assert sandbox.controls.request_log() == []       # nor a request spent re-reading our own writes
    rows = inbox_rows(synced)
    assert len(rows) > 3 and {(r.status, r.status_reason) for r in rows} == {("applied", ECHO_NOTE)}
    assert reconcile(synced).in_sync                  # the landing now mirrors what PCO has
    assert differences_from_pco(synced, sandbox) == []

    # Someone changes a pushed person in PCO afterwards: that is applied. The create's echo, delivered
    # again late, must not bring the pushed name back.
    created_echo = next(r for r in rows if r.event_name == "people.v2.events.person.created")
    with synced.connect() as conn:
        original = conn.execute(sa.text("SELECT raw_body FROM webhook_inbox WHERE id = :i"),
                                {"i": created_echo.id}).scalar()
    sandbox.controls.advance_clock(60)
    sandbox.controls.update_record("people/people", created_echo.resource_id, {"last_name": "Changed-In-PCO"})
    wait_for_deliveries(sandbox)
    drained = drain(instance, resources, cursor=drained.cursor)
    late_echo = as_new_delivery(bytes(original))
    assert post_delivery(receiver_url, late_echo, subscription_secret(synced, "people.v2.events.person.created")
                         ).status_code == 200
    drain(instance, resources, cursor=drained.cursor)

    with synced.connect() as conn:
        name = conn.execute(sa.text("SELECT last_name FROM people WHERE pco_id = :p"),
                            {"p": created_echo.resource_id}).scalar()
    assert name == "Changed-In-PCO"
    *_, change, late = inbox_rows(synced)
    assert (change.status, change.status_reason) == ("applied", None)
    assert late.status == "ignored" and late.status_reason.startswith("older than the version held")
    assert differences_from_pco(synced, sandbox) == []
