"""Pushes show in lineage: a push job reports the church tables it stored PCO ids into (asset
materializations) and the PCO records it wrote (observations of the `pco/*` asset); a dry run and
a push with nothing to send report nothing."""

from datetime import date

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.outbound.jobs import dry_run_config
from pco_pipeline_tests.outbound.conftest import add_person, mark_people_read
from pco_pipeline_tests.sandbox_fixtures import seed_church

CHURCH_PEOPLE = dg.AssetKey(["church", "people"])
CHURCH_FAMILIES = dg.AssetKey(["church", "families"])
PCO_PEOPLE = dg.AssetKey(["pco", "people"])
PCO_HOUSEHOLDS = dg.AssetKey(["pco", "households"])
PEOPLE = 60


def materializations(instance: dg.DagsterInstance, key: dg.AssetKey, run_id: str | None = None) -> list:
    return [record.asset_materialization for record in instance.fetch_materializations(key, limit=100).records
            if run_id in (None, record.run_id)]


def observations(instance: dg.DagsterInstance, key: dg.AssetKey, run_id: str | None = None) -> list:
    return [record.asset_observation for record in instance.fetch_observations(key, limit=100).records
            if run_id in (None, record.run_id)]


def values(event) -> dict:
    return {name: value.value for name, value in event.metadata.items()}


def test_a_push_reports_the_ids_it_stored_and_the_pco_records_it_wrote(engine, run_job, instance, sandbox):
    with engine.begin() as conn:
        add_person(conn, "Ada", "Lineage", birthdate=date(1980, 1, 2), email="ada.lineage@example.org")
        add_person(conn, "Bo", "Lineage", birthdate=date(1982, 3, 4), email="bo.lineage@example.org",
                   phone="(555) 010-2000", e164="+15550102000")
    mark_people_read(engine)

    assert run_job("push_people", dry_run_config("push_people")).success
    for key in (CHURCH_PEOPLE, PCO_PEOPLE):
        assert materializations(instance, key) == [] and observations(instance, key) == []

    result = run_job("push_people")
    assert result.success
    with engine.connect() as conn:
        linked = conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM people WHERE pco_id IS NOT NULL),"
            " (SELECT count(*) FROM person_emails WHERE pco_id IS NOT NULL),"
            " (SELECT count(*) FROM person_phones WHERE pco_id IS NOT NULL)")).one()
    assert tuple(linked) == (2, 2, 1)

    [church] = materializations(instance, CHURCH_PEOPLE)
    assert values(church)["pco_ids_stored"] == 5
    assert values(church)["by_record_type"] == {"Person": 2, "Email": 2, "PhoneNumber": 1}
    assert values(church)["push"] == "people"
    [pco_side] = observations(instance, PCO_PEOPLE)
    assert values(pco_side)["created_in_pco"] == 5
    assert values(pco_side)["by_record_type"] == {"Person": {"created": 2, "updated": 0},
                                                 "Email": {"created": 2, "updated": 0},
                                                 "PhoneNumber": {"created": 1, "updated": 0}}
    assert len(sandbox.store.all("people/people")) == 2
    # Written in PCO, not landed: the pco/* asset is observed, never materialized by a push.
    assert materializations(instance, PCO_PEOPLE) == []
    for key in (CHURCH_FAMILIES, PCO_HOUSEHOLDS):
        assert materializations(instance, key) == [] and observations(instance, key) == []

    # Nothing left to send: no further event.
    assert run_job("push_people").success
    assert len(materializations(instance, CHURCH_PEOPLE)) == 1
    assert len(observations(instance, PCO_PEOPLE)) == 1


def test_full_push_reports_each_table_it_linked_and_each_pco_asset_it_wrote(engine, run_job, instance, sandbox):
    seed_church(sandbox, people=PEOPLE, seed=11, engine=engine)
    assert run_job("full_sync").success
    with engine.begin() as conn:
        # Unlinked church people join a PCO group at church: pushed once they are in PCO.
        conn.execute(sa.text("""
            INSERT INTO group_membership (group_id, person_id, leader_type, joined_at)
            SELECT (SELECT min(id) FROM church_group WHERE level = 3 AND pco_id IS NOT NULL AND is_active),
                   p.id, 'coach', now() - interval '3 days'
            FROM people p WHERE p.pco_id IS NULL ON CONFLICT DO NOTHING"""))
    before = linked_counts(engine)
    households_before = sandbox.store.count("people/households")
    memberships_before = sandbox.store.count("groups/memberships")

    push = run_job("full_push")
    assert push.success
    after = linked_counts(engine)
    assert after["group_membership"] > before["group_membership"] and after["families"] > before["families"]

    [families] = materializations(instance, CHURCH_FAMILIES, push.run_id)
    assert values(families)["by_record_type"] == {"Household": after["families"] - before["families"]}
    [memberships] = materializations(instance, dg.AssetKey(["church", "group_memberships"]), push.run_id)
    assert values(memberships)["pco_ids_stored"] == after["group_membership"] - before["group_membership"]
    [people] = materializations(instance, CHURCH_PEOPLE, push.run_id)
    assert values(people)["by_record_type"]["Person"] == after["people"] - before["people"]

    [households] = observations(instance, PCO_HOUSEHOLDS, push.run_id)
    assert values(households)["by_record_type"]["Household"]["created"] == \
        sandbox.store.count("people/households") - households_before
    [pco_memberships] = observations(instance, dg.AssetKey(["pco", "group_memberships"]), push.run_id)
    assert values(pco_memberships)["created_in_pco"] == sandbox.store.count("groups/memberships") - memberships_before
    assert values(pco_memberships)["push"] == "group_memberships"


def linked_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table: conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE pco_id IS NOT NULL")).scalar_one()
                for table in ("people", "families", "group_membership")}
