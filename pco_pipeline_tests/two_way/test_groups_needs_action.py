"""A group edited in the church (issue 16 item 5). The groups load keeps a church edit of a
linked group's name or description (the base says which side changed); PCO's Groups API takes a
name, so the group_memberships push sends it; it cannot take a description, so that is listed
once as "needs action in PCO" and closed when PCO holds the church's value. An edit made only in
PCO still flows in."""

from pco_pipeline.sync.conflicts import NO_LONGER_NEEDED, list_conflicts, resolve_conflict
from pco_pipeline.sync.load_groups import load_groups
from pco_pipeline.sync.memberships_push import run_group_memberships_push
from pco_pipeline.sync.registry import GROUPS_ENTITY
from pco_pipeline_tests.outbound.conftest import client  # noqa: F401 (fixtures register by being imported)
from pco_pipeline_tests.sandbox_fixtures import sandbox, sandbox_url  # noqa: F401
from pco_pipeline_tests.outbound.test_crash_safety import GROUP_ID
from pco_pipeline_tests.sync.pco_docs import execute, group, group_type, land, rows


def _linked_group(engine, group_id="g1", name="Tuesday Men", description: str | None = "Men's study"):
    land(engine, "groups/group_types", [group_type("t1", "Small Groups")], listing=True)
    land(engine, "groups/groups", [group(group_id, name, "t1", description=description)], listing=True)
    load_groups(engine)


def _group(engine, group_id="g1"):
    return tuple(rows(engine, "SELECT name, description FROM church_group WHERE pco_id = :g", g=group_id)[0])


def _needs_action(engine):
    with engine.connect() as conn:
        return [c for c in list_conflicts(conn) if c.entity == "church_groups"]


def test_a_church_rename_is_kept_by_the_load_and_sent_to_pco_by_the_push(engine, client, sandbox):  # noqa: F811 (fixtures)
    sandbox.load({"groups/groups": [group(GROUP_ID, "Tuesday Men", None)]})
    _linked_group(engine, GROUP_ID, description=None)
    execute(engine, "UPDATE church_group SET name = 'Tuesday Brothers' WHERE pco_id = :g", g=GROUP_ID)
    load_groups(engine)
    assert _group(engine, GROUP_ID)[0] == "Tuesday Brothers"

    report = run_group_memberships_push(engine, client)
    assert [(r["method"], r["path"]) for r in sandbox.controls.request_log()
            if r["method"] != "GET"] == [("PATCH", f"/groups/v2/groups/{GROUP_ID}")]
    assert sandbox.store.get("groups/groups", GROUP_ID).attributes["name"] == "Tuesday Brothers"
    assert report.counts.by_resource()["Group"]["updated"] == 1

    # The next sync reads PCO's group: both sides agree, nothing to do in PCO, nothing more to send.
    land(engine, "groups/groups", [group(GROUP_ID, "Tuesday Brothers", "t1")], listing=True)
    assert load_groups(engine)["church_groups"].writes == 0
    assert _needs_action(engine) == []
    sandbox.controls.reset_request_log()
    run_group_memberships_push(engine, client)
    assert [r for r in sandbox.controls.request_log() if r["method"] != "GET"] == []


def test_a_church_description_is_kept_listed_once_and_closed_when_pco_matches(engine):
    _linked_group(engine)
    execute(engine, "UPDATE church_group SET description = 'Bible study for men' WHERE pco_id = 'g1'")

    load_groups(engine)
    # Seen again (the open row keeps the group in the incremental load's scope): still one row;
    # the load's report (the church_groups asset's metadata) counts it.
    assert GROUPS_ENTITY.load(engine).facts == {"needs_action_in_pco": 1, "full_comparison": 0,
                                                "records_looked_at": 1}
    assert _group(engine) == ("Tuesday Men", "Bible study for men")
    [row] = _needs_action(engine)
    assert (row.field, row.needs_action, row.is_open, row.church_value, row.pco_value) == (
        "description", True, True, "Bible study for men", "Men's study")
    assert row.action_needed == ("In PCO Groups, set the group's description to the church's"
                                 " (PCO group g1, 'Tuesday Men')")

    # Staff edit it in PCO: the next load finds both sides equal and closes the row.
    land(engine, "groups/groups", [group("g1", "Tuesday Men", "t1", description="Bible study for men")],
         listing=True)
    outcome = GROUPS_ENTITY.load(engine)
    assert (outcome.counts["church_groups"].writes, outcome.facts["needs_action_in_pco"]) == (0, 0)
    [row] = _needs_action(engine)
    assert (row.decided_by, row.applied_at is not None) == (NO_LONGER_NEEDED, True)

    # The base moved to the agreed description: a later PCO-only edit flows in, and needs nothing.
    land(engine, "groups/groups", [group("g1", "Tuesday Men", "t1", description="Bring a Bible")], listing=True)
    load_groups(engine)
    assert _group(engine) == ("Tuesday Men", "Bring a Bible")
    assert [c.is_open for c in _needs_action(engine)] == [False]


def test_a_pco_only_edit_flows_in_with_nothing_to_do_in_pco(engine):
    _linked_group(engine)
    land(engine, "groups/groups", [group("g1", "Tuesday Men's Study", "t1", description="Bring a Bible")],
         listing=True)
    assert load_groups(engine)["church_groups"].updated == 1
    assert _group(engine) == ("Tuesday Men's Study", "Bring a Bible")
    assert _needs_action(engine) == []


def test_both_sides_edit_the_description_the_church_keeps_its_own_and_pco_is_told(engine):
    _linked_group(engine)
    execute(engine, "UPDATE church_group SET description = 'Bible study for men' WHERE pco_id = 'g1'")
    land(engine, "groups/groups", [group("g1", "Tuesday Men", "t1", description="Study & breakfast")], listing=True)
    load_groups(engine)
    assert _group(engine) == ("Tuesday Men", "Bible study for men")
    [row] = _needs_action(engine)
    assert (row.field, row.church_value, row.pco_value) == ("description", "Bible study for men", "Study & breakfast")

    # Staff say it is done in PCO; once PCO holds it, the load marks the row applied.
    with engine.begin() as conn:
        resolve_conflict(conn, row.id, decided_by="alice", take="church")
    land(engine, "groups/groups", [group("g1", "Tuesday Men", "t1", description="Bible study for men")], listing=True)
    load_groups(engine)
    [row] = _needs_action(engine)
    assert (row.decided_by, row.applied_at is not None) == ("alice", True)
    assert _group(engine) == ("Tuesday Men", "Bible study for men")


def test_a_name_both_sides_changed_is_a_recorded_conflict_the_church_wins_and_the_push_applies(engine, client, sandbox):  # noqa: F811
    sandbox.load({"groups/groups": [group(GROUP_ID, "Tuesday Men", None)]})
    _linked_group(engine, GROUP_ID, description=None)
    execute(engine, "UPDATE church_group SET name = 'Tuesday Brothers' WHERE pco_id = :g", g=GROUP_ID)
    land(engine, "groups/groups", [group(GROUP_ID, "Tuesday Fellows", "t1")], listing=True)
    load_groups(engine)
    load_groups(engine)   # seen again: still one row
    assert _group(engine, GROUP_ID)[0] == "Tuesday Brothers"
    [conflict] = _needs_action(engine)
    assert (conflict.field, conflict.outcome, conflict.pco_value, conflict.church_value, conflict.decided_by) == \
        ("name", "church_wins", "Tuesday Fellows", "Tuesday Brothers", "policy church")

    run_group_memberships_push(engine, client)
    assert sandbox.store.get("groups/groups", GROUP_ID).attributes["name"] == "Tuesday Brothers"
    land(engine, "groups/groups", [group(GROUP_ID, "Tuesday Brothers", "t1")], listing=True)
    load_groups(engine)
    [conflict] = _needs_action(engine)
    assert conflict.applied_at is not None
