"""A group edited in the church (issue 16 item 5): PCO's API cannot take it, so the groups load
keeps the church's value, lists it once as "needs action in PCO", and closes that row when PCO
holds the church's value; an edit made only in PCO still flows in."""

from pco_pipeline.sync.conflicts import NO_LONGER_NEEDED, list_conflicts, resolve_conflict
from pco_pipeline.sync.load_groups import load_groups
from pco_pipeline.sync.registry import GROUPS_ENTITY
from pco_pipeline_tests.sync.pco_docs import execute, group, group_type, land, rows


def _linked_group(engine, name="Tuesday Men", description="Men's study"):
    land(engine, "groups/group_types", [group_type("t1", "Small Groups")], listing=True)
    land(engine, "groups/groups", [group("g1", name, "t1", description=description)], listing=True)
    load_groups(engine)


def _group(engine):
    return tuple(rows(engine, "SELECT name, description FROM church_group WHERE pco_id = 'g1'")[0])


def _needs_action(engine):
    with engine.connect() as conn:
        return [c for c in list_conflicts(conn) if c.entity == "church_groups"]


def test_a_church_rename_is_kept_listed_once_and_closed_when_pco_matches(engine):
    _linked_group(engine)
    execute(engine, "UPDATE church_group SET name = 'Tuesday Brothers' WHERE pco_id = 'g1'")

    load_groups(engine)
    # Seen again: still one row; the load's report (the church_groups asset's metadata) counts it.
    assert GROUPS_ENTITY.load(engine).facts == {"needs_action_in_pco": 1}
    assert _group(engine) == ("Tuesday Brothers", "Men's study")
    [row] = _needs_action(engine)
    assert (row.field, row.needs_action, row.is_open, row.church_value, row.pco_value) == (
        "name", True, True, "Tuesday Brothers", "Tuesday Men")
    assert row.action_needed == ("In PCO Groups, rename the group to the church's name"
                                 " (PCO group g1, 'Tuesday Men')")

    # Staff rename it in PCO: the next load finds both sides equal and closes the row.
    land(engine, "groups/groups", [group("g1", "Tuesday Brothers", "t1", description="Men's study")], listing=True)
    outcome = GROUPS_ENTITY.load(engine)
    assert (outcome.counts["church_groups"].writes, outcome.facts) == (0, {"needs_action_in_pco": 0})
    [row] = _needs_action(engine)
    assert (row.decided_by, row.applied_at is not None) == (NO_LONGER_NEEDED, True)
    assert _group(engine) == ("Tuesday Brothers", "Men's study")

    # The base moved to the agreed name: a later PCO-only rename flows in, and needs nothing.
    land(engine, "groups/groups", [group("g1", "Men on Tuesday", "t1", description="Men's study")], listing=True)
    load_groups(engine)
    assert _group(engine) == ("Men on Tuesday", "Men's study")
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
