"""Read before write: a push_changes run reads PCO's current record of each linked person its
outbox rows name and loads it before planning, so a PCO edit made since the last load (its
webhook not applied yet) is never overwritten unseen: the three-way rule takes it or records the
conflict and decides it by policy (`pco` wins last_name by default)."""

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.inbound.keys import church_key, pco_key
from pco_pipeline.pco.client import resource_body
from pco_pipeline.sync import outbox
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources
from pco_pipeline_tests.outbound.conftest import writes
from pco_pipeline_tests.outbound.test_crash_safety import GROUP_ID
from pco_pipeline_tests.outbound.test_family_members_two_way import church  # noqa: F401 (a fixture)
from pco_pipeline_tests.outbound.test_push_two_way import synced_church
from pco_pipeline_tests.outbox.conftest import outbox_rows, run_request, sensor_tick
from pco_pipeline_tests.outbox.test_push_changes import edit, pco_person


def conflicts(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT pco_id, field, church_value, pco_value, outcome FROM sync_conflicts ORDER BY id"))]


def church_last_name(engine: sa.Engine, pco_id: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT last_name FROM people WHERE pco_id = :p"), {"p": pco_id}).scalar_one()


def materialized(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {event.asset_key for event in result.get_asset_materialization_events() if event.asset_key}


def test_a_pco_edit_not_loaded_yet_is_not_overwritten_by_the_sensor_s_push_the_conflict_is_recorded(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    people = synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron"), ("Bob", "Adams")])
    ada = people["Ada"]
    # PCO's edit, with no load after it (its webhook not applied yet) ...
    client.patch(f"/people/v2/people/{ada}", resource_body("Person", {"last_name": "Okafor"}, id=ada))
    sandbox.controls.reset_request_log()
    # ... and the church's edit of the same field by another application.
    edit(engine, "UPDATE people SET last_name = 'Kaczmarek-Okafor' WHERE pco_id = :p", p=ada)

    result = run_request(sensor_tick(database_url, instance, cursor=None), resources, instance)

    assert result.success
    assert pco_person(sandbox, ada)["last_name"] == "Okafor"              # PCO's edit kept (policy pco)
    assert writes(sandbox) == []
    assert conflicts(engine) == [(ada, "last_name", "Kaczmarek-Okafor", "Okafor", "pco_wins")]   # not lost silently
    assert church_last_name(engine, ada) == "Okafor"
    (row,) = outbox_rows(engine)            # the load's write of PCO's value is the pipeline's: no new row
    assert row.status == "sent"
    reads = [r for r in sandbox.controls.request_log() if r["path"] == f"/people/v2/people/{ada}"]
    assert [r["method"] for r in reads] == ["GET"]                        # one read of the person named
    # Lineage: the landing and the church table the refresh wrote.
    assert {pco_key("people"), church_key("people")} <= materialized(result)


def test_an_edit_pco_did_not_touch_is_sent_in_one_patch_after_one_read(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    people = synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron"), ("Bob", "Adams")])
    ada = people["Ada"]
    edit(engine, "UPDATE people SET last_name = 'King' WHERE pco_id = :p", p=ada)

    result = run_request(sensor_tick(database_url, instance, cursor=None), resources, instance)

    assert result.success
    assert [(r["method"], r["path"]) for r in writes(sandbox)] == [("PATCH", f"/people/v2/people/{ada}")]
    assert pco_person(sandbox, ada)["last_name"] == "King"
    assert conflicts(engine) == []
    gets = [r["path"] for r in sandbox.controls.request_log() if r["method"] == "GET"]
    assert gets.count(f"/people/v2/people/{ada}") == 1 and f"/people/v2/people/{people['Bob']}" not in gets
    assert [r.status for r in outbox_rows(engine)] == ["sent"]


def test_a_person_created_by_the_church_is_not_read_before_its_create(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron")])
    edit(engine, "INSERT INTO people (first_name, last_name) VALUES ('Cy', 'Young')")

    result = run_request(sensor_tick(database_url, instance, cursor=None), resources, instance)

    assert result.success
    single_reads = [r for r in sandbox.controls.request_log()
                    if r["method"] == "GET" and r["path"].startswith("/people/v2/people/")]
    assert single_reads == []
    assert [(r["method"], r["path"]) for r in writes(sandbox)][0] == ("POST", "/people/v2/people")


def test_an_email_pco_changed_since_the_last_load_is_read_with_its_person_and_wins_by_policy(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    ada = synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron")])["Ada"]
    email = client.post(f"/people/v2/people/{ada}/emails",
                        resource_body("Email", {"address": "ada@old.example", "location": "Home"})).id
    sync_webhook_resources(client, pipeline_engine)
    client.patch(f"/people/v2/emails/{email}", resource_body("Email", {"address": "ada@pco.example"}, id=email))
    sandbox.controls.reset_request_log()
    edit(engine, "UPDATE person_emails SET address = 'ada@church.example' WHERE pco_id = :e", e=email)

    assert run_request(sensor_tick(database_url, instance, cursor=None), resources, instance).success

    assert sandbox.store.require("people/emails", email).attributes["address"] == "ada@pco.example"
    assert writes(sandbox) == []
    assert [(c[1], c[2], c[3], c[4]) for c in conflicts(engine)] == [
        ("address", "ada@church.example", "ada@pco.example", "pco_wins")]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT address FROM person_emails WHERE pco_id = :e"),
                            {"e": email}).scalar_one() == "ada@pco.example"


def test_a_household_renamed_in_pco_since_the_last_load_is_read_before_the_family_s_push(
        engine, client, sandbox, church, database_url, resources, instance):
    household = church["household"]
    client.patch(f"/people/v2/households/{household}",
                 resource_body("Household", {"name": "Byron-King Household"}, id=household))
    sandbox.controls.reset_request_log()
    edit(engine, "UPDATE families SET name = 'The Byrons' WHERE id = :f", f=church["family"])

    assert run_request(sensor_tick(database_url, instance, cursor=None), resources, instance).success

    assert sandbox.store.require("people/households", household).attributes["name"] == "Byron-King Household"
    assert writes(sandbox) == []
    assert [(c[1], c[2], c[3], c[4]) for c in conflicts(engine)] == [
        ("name", "The Byrons", "Byron-King Household", "pco_wins")]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM families WHERE id = :f"),
                            {"f": church["family"]}).scalar_one() == "Byron-King Household"
    gets = [r["path"] for r in sandbox.controls.request_log() if r["method"] == "GET"]
    assert gets.count(f"/people/v2/households/{household}") == 1


def test_a_role_both_sides_changed_is_read_first_and_recorded_as_a_conflict_the_church_wins(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    sandbox.load({"groups/groups": [{"type": "Group", "id": GROUP_ID, "attributes": {
        "name": "Choir", "archived_at": None, "created_at": "2020-01-01T00:00:00Z", "memberships_count": 0},
        "relationships": {"group_type": {"data": None}, "location": {"data": None}}}]})
    ada = synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron")])["Ada"]
    membership = sandbox.controls.create("groups/memberships", {"role": "member"}, parent_id=GROUP_ID,
                                         relationships={"person": {"data": {"type": "Person", "id": ada}}}).id
    sync_webhook_resources(client, pipeline_engine)
    path = f"/groups/v2/groups/{GROUP_ID}/memberships/{membership}"
    client.patch(path, resource_body("Membership", {"role": "leader"}, id=membership))
    sandbox.controls.reset_request_log()
    edit(engine, "UPDATE group_membership SET leader_type = 'coach' WHERE pco_id = :m", m=membership)

    assert run_request(sensor_tick(database_url, instance, cursor=None), resources, instance).success

    # Policy church for leader_type: the church's value goes, and PCO's overridden one is recorded.
    assert [(c[1], c[2], c[3], c[4]) for c in conflicts(engine)] == [("leader_type", "coach", "leader", "church_wins")]
    assert sandbox.store.require("groups/memberships", membership).attributes["role"] == "member"
    assert [(r["method"], r["path"]) for r in sandbox.controls.request_log()].count(("GET", path)) == 1


def pco_requests(sandbox) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in sandbox.controls.request_log()]


def test_one_read_per_person_serves_the_hold_a_batch_it_read_whole_costs_no_listing(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    ada = pco_person_with_contacts(client, "Ada", "Byron", "ada@example.org", "(217) 555-0101")
    sync_webhook_resources(client, pipeline_engine)
    sandbox.controls.reset_request_log()
    # The person, an email and a phone of hers, edited together by another application.
    edit(engine, "UPDATE people SET nickname = 'Addie' WHERE pco_id = :p", p=ada)
    edit(engine, "UPDATE person_emails SET address = 'addie@example.org' WHERE person_id ="
                 " (SELECT id FROM people WHERE pco_id = :p)", p=ada)
    edit(engine, "UPDATE person_phones SET number = '(217) 555-0199' WHERE person_id ="
                 " (SELECT id FROM people WHERE pco_id = :p)", p=ada)

    assert run_request(sensor_tick(database_url, instance, cursor=None), resources, instance).success

    requests = pco_requests(sandbox)
    assert [r for r in requests if r[0] == "GET"] == [("GET", f"/people/v2/people/{ada}")]    # one read, no listing
    assert sorted(r[0] for r in requests if r[0] != "GET") == ["PATCH", "PATCH", "PATCH"]
    assert pco_person(sandbox, ada)["nickname"] == "Addie"
    assert [r.status for r in outbox_rows(engine)] == ["sent", "sent", "sent"]


def test_a_change_the_run_did_not_read_is_still_listed_and_held_when_pco_changed_it(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    people = synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron"), ("Bob", "Adams")])
    ada, bob = people["Ada"], people["Bob"]
    # Bob's church edit is another batch's, held by a run still working on it; PCO edits the same
    # field of Bob's meanwhile (its webhook not applied).
    edit(engine, "UPDATE people SET last_name = 'Adams-Church' WHERE pco_id = :p", p=bob)
    (bob_row,) = outbox_rows(engine)
    outbox.claim(pipeline_engine, [bob_row.id], run_id="another-run")
    client.patch(f"/people/v2/people/{bob}", resource_body("Person", {"last_name": "Adams-PCO"}, id=bob))
    sandbox.controls.reset_request_log()
    edit(engine, "UPDATE people SET nickname = 'Addie' WHERE pco_id = :p", p=ada)

    tick = sensor_tick(database_url, instance, cursor=str(bob_row.id))
    assert run_request(tick, resources, instance).success

    # The push sends every church change it finds; Bob's was not read by this run: listed, held.
    assert pco_person(sandbox, bob)["last_name"] == "Adams-PCO"
    assert pco_person(sandbox, ada)["nickname"] == "Addie"
    assert [r for r in pco_requests(sandbox) if r[0] != "GET"] == [("PATCH", f"/people/v2/people/{ada}")]
    assert ("GET", "/people/v2/people") in pco_requests(sandbox)        # the hold's listing, for Bob


def pco_person_with_contacts(client, first: str, last: str, address: str, number: str) -> str:
    person = client.post("/people/v2/people", resource_body("Person", {"first_name": first, "last_name": last})).id
    client.post(f"/people/v2/people/{person}/emails", resource_body("Email", {"address": address, "location": "Home"}))
    client.post(f"/people/v2/people/{person}/phone_numbers",
                resource_body("PhoneNumber", {"number": number, "location": "Mobile"}))
    return person
