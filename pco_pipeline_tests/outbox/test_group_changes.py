"""A linked group edited in the church with plain SQL (as another application would) is captured
(sql/0020) and sent by a push_changes run through the group memberships push's rename: read from
PCO first, then one PATCH. A description PCO's API cannot take ends the row `needs_action` with
what to do in PCO. The pipeline's own writes to groups (the groups load) create no outbox row."""

import sqlalchemy as sa

from pco_pipeline.pco.client import resource_body
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources
from pco_pipeline_tests.outbound.conftest import writes
from pco_pipeline_tests.outbound.test_push_two_way import synced_church
from pco_pipeline_tests.outbox.conftest import outbox_rows, run_request, sensor_tick
from pco_pipeline_tests.outbox.test_push_changes import edit
from pco_pipeline_tests.outbox.test_read_before_write import conflicts
from pco_pipeline_tests.sync.pco_docs import group, group_type

GROUP = "6101"


def synced_group(sandbox, client, pipeline_engine) -> None:
    """A PCO group (of a group type, with a description) and one person, synced into the church."""
    sandbox.load({"groups/group_types": [group_type("6100", "Small Groups")],
                  "groups/groups": [group(GROUP, "Tuesday Men", "6100", description="Men's study")]})
    synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron")])


def pco_group(sandbox) -> dict:
    return sandbox.store.require("groups/groups", GROUP).attributes


def test_a_group_renamed_with_plain_sql_is_read_then_renamed_in_pco_by_the_sensor_s_run(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    synced_group(sandbox, client, pipeline_engine)
    assert outbox_rows(engine) == []          # the sync wrote the church's groups: no edit to push

    edit(engine, "UPDATE church_group SET name = 'Tuesday Brothers' WHERE pco_id = :g", g=GROUP)
    (row,) = outbox_rows(engine)
    assert (row.table_name, row.operation, row.changed_columns, row.status) == (
        "church_group", "update", ["name"], "pending")

    result = run_request(sensor_tick(database_url, instance, cursor=None), resources, instance)

    assert result.success
    assert pco_group(sandbox)["name"] == "Tuesday Brothers"
    assert [(r["method"], r["path"]) for r in writes(sandbox)] == [("PATCH", f"/groups/v2/groups/{GROUP}")]
    gets = [r["path"] for r in sandbox.controls.request_log() if r["method"] == "GET"]
    assert gets.count(f"/groups/v2/groups/{GROUP}") == 1        # read before the write
    (row,) = outbox_rows(engine)
    assert (row.status, row.attempts) == ("sent", 1)
    # PCO's copy of the rename, loaded by the next sync, is the pipeline's write: no new row.
    sync_webhook_resources(client, pipeline_engine)
    assert len(outbox_rows(engine)) == 1


def test_a_group_pco_renamed_since_the_last_load_is_read_first_and_the_church_s_name_wins_recorded(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    synced_group(sandbox, client, pipeline_engine)
    client.patch(f"/groups/v2/groups/{GROUP}", resource_body("Group", {"name": "Tuesday Fellows"}, id=GROUP))
    edit(engine, "UPDATE church_group SET name = 'Tuesday Brothers' WHERE pco_id = :g", g=GROUP)

    assert run_request(sensor_tick(database_url, instance, cursor=None), resources, instance).success

    # Groups: the church keeps its own (fixed); PCO's overridden name is recorded, not lost.
    assert [(c[1], c[2], c[3], c[4]) for c in conflicts(engine)] == [
        ("name", "Tuesday Brothers", "Tuesday Fellows", "church_wins")]
    assert pco_group(sandbox)["name"] == "Tuesday Brothers"


def test_a_description_pco_cannot_take_ends_needs_action_with_what_to_do_in_pco(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    synced_group(sandbox, client, pipeline_engine)
    edit(engine, "UPDATE church_group SET description = 'Bible study for men' WHERE pco_id = :g", g=GROUP)

    result = run_request(sensor_tick(database_url, instance, cursor=None), resources, instance)

    assert result.success
    assert writes(sandbox) == []
    assert pco_group(sandbox)["description"] == "Men's study"
    (row,) = outbox_rows(engine)
    assert row.status == "needs_action"
    assert row.status_reason == (f"In PCO Groups, set the group's description to the church's "
                                 f"(PCO group {GROUP}, 'Tuesday Men')")
    assert result.output_for_node("push_church_changes")["needs_action"] == 1


def test_the_pipeline_s_writes_to_groups_and_church_only_groups_create_no_outbox_row(
        engine, pipeline_engine, client, sandbox):
    synced_group(sandbox, client, pipeline_engine)
    client.patch(f"/groups/v2/groups/{GROUP}", resource_body("Group", {"name": "Tuesday Fellows"}, id=GROUP))
    sync_webhook_resources(client, pipeline_engine)             # the groups load renames the church's group
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM church_group WHERE pco_id = :g"),
                            {"g": GROUP}).scalar_one() == "Tuesday Fellows"
    # The church's department and areas are not PCO groups: renaming them sends nothing.
    edit(engine, "UPDATE church_group SET name = name || ' (church)' WHERE level < 3")
    assert outbox_rows(engine) == []
