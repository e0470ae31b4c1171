"""Webhook writes show in lineage: an `apply_webhooks` run materializes the `pco/*` assets whose
landing its events wrote and the `church/*` assets its loads wrote, with the counts and the event
names; a run that changed nothing reports nothing."""

from collections import Counter

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.webhooks.apply import apply_webhooks
from pco_pipeline_tests.webhooks_e2e.conftest import inbox_rows, local_person, wait_for_deliveries
from pco_pipeline_tests.webhooks_e2e.test_burst import api_body, pick_people

PERSON_UPDATED = "people.v2.events.person.updated"
PHONE_CREATED = "people.v2.events.phone_number.created"


def materializations(instance: dg.DagsterInstance, key: dg.AssetKey) -> list:
    return [record.asset_materialization for record in instance.fetch_materializations(key, limit=100).records]


def values(event) -> dict:
    return {name: value.value for name, value in event.metadata.items()}


def test_applied_webhooks_materialize_the_landing_and_church_assets_they_wrote(
        sandbox, synced, receiver, instance, resources):
    first, second = pick_people(sandbox, synced, 2)
    sandbox.controls.advance_clock(60)  # newer than what the inbound sync saw
    with sandbox.client() as api:
        for pco_id in (first, second):
            assert api.patch(f"/people/v2/people/{pco_id}", json=api_body(
                "Person", {"last_name": f"Lineage-{pco_id}"})).status_code == 200
        assert api.post(f"/people/v2/people/{first}/phone_numbers", json=api_body(
            "PhoneNumber", {"number": "(555) 303-4455", "location": "Work"})).status_code == 201
    wait_for_deliveries(sandbox)
    ids = [row.id for row in inbox_rows(synced)]
    # Adding a phone number also bumps the person's updated_at: PCO sends a person.updated with it.
    sent = {PERSON_UPDATED: 3, PHONE_CREATED: 1}
    assert Counter(row.event_name for row in inbox_rows(synced)) == sent

    run = apply_webhooks.execute_in_process(run_config={"ops": {"apply_webhook_events": {
        "config": {"inbox_ids": ids}}}}, resources=resources, instance=instance)
    assert run.success
    assert local_person(synced, first).last_name == f"Lineage-{first}"

    [landing] = materializations(instance, dg.AssetKey(["pco", "people"]))
    assert values(landing)["applied_events"] == 4
    assert values(landing)["events"] == sent
    assert values(landing)["inbox_batch"] == f"4 row(s), ids {min(ids)}–{max(ids)}"

    [church] = materializations(instance, dg.AssetKey(["church", "people"]))
    church_values = values(church)
    assert church_values["by_table"]["people"]["updated"] == 2
    assert church_values["by_table"]["person_phones"]["created"] == 1
    assert church_values["rows_written"] == church_values["created"] + church_values["updated"] \
        + church_values["deactivated"] == 3
    assert church_values["events"] == sent
    with synced.connect() as conn:
        phones = conn.execute(sa.text(
            "SELECT count(*) FROM person_phones c JOIN people p ON p.id = c.person_id"
            " WHERE p.pco_id = :p AND c.e164 = '+15553034455'"), {"p": first}).scalar_one()
    assert phones == 1
    # Only what the events touched: no household, group or membership event, no event on their assets.
    for untouched in (["pco", "households"], ["pco", "group_memberships"], ["church", "families"],
                      ["church", "group_memberships"]):
        assert materializations(instance, dg.AssetKey(untouched)) == []

    # The same rows again: all final already, nothing written, nothing reported.
    again = apply_webhooks.execute_in_process(run_config={"ops": {"apply_webhook_events": {
        "config": {"inbox_ids": ids}}}}, resources=resources, instance=instance)
    assert again.success
    assert len(materializations(instance, dg.AssetKey(["pco", "people"]))) == 1
    assert len(materializations(instance, dg.AssetKey(["church", "people"]))) == 1
