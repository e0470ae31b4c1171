"""The memberships load gives a membership the sync created PCO's leader type only when PCO
changed it since the two sides last agreed: a leader made in the church stays one, a change made
in PCO alone arrives, and a change both sides made is agreed (the base moves to it)."""

from __future__ import annotations

from pco_pipeline.sync.load_groups import load_group_memberships, load_groups
from pco_pipeline.sync.load_people import load_people
from pco_pipeline_tests.sync.pco_docs import execute, group, group_type, land, membership, person, rows, scalar


def _member_from_pco(engine) -> None:
    land(engine, "people/people", [person("1", "Ann", "Lee")])
    load_people(engine)
    land(engine, "groups/group_types", [group_type("t1", "Small Groups")], listing=True)
    land(engine, "groups/groups", [group("g1", "Tuesday Men", "t1")], listing=True)
    load_groups(engine)
    land(engine, "groups/memberships", [membership("m1", "g1", "1", "member")], parent_pco_id="g1")
    load_group_memberships(engine)


def _pco_role(engine, role: str) -> None:
    land(engine, "groups/memberships", [membership("m1", "g1", "1", role)], parent_pco_id="g1")


def _leader_type(engine) -> str:
    return scalar(engine, "SELECT leader_type FROM group_membership WHERE pco_id = 'm1'")


def _load_after(engine, *, church_role: str, pco_role: str) -> str:
    """The member from PCO given `church_role` in the church and `pco_role` in PCO, loaded;
    returns the church's leader type after the load."""
    _member_from_pco(engine)
    execute(engine, "UPDATE group_membership SET leader_type = :role WHERE pco_id = 'm1'", role=church_role)
    _pco_role(engine, pco_role)
    load_group_memberships(engine)
    return _leader_type(engine)


def _conflicts(engine) -> list[tuple]:
    return [tuple(r) for r in rows(engine, "SELECT entity, field, church_value, pco_value, outcome FROM sync_conflicts")]


def test_a_leader_made_in_the_church_stays_when_pco_did_not_change_the_role(engine):
    assert _load_after(engine, church_role="leader", pco_role="member") == "leader"
    assert _conflicts(engine) == []


def test_a_role_changed_in_pco_alone_arrives(engine):
    _member_from_pco(engine)
    _pco_role(engine, "leader")
    assert load_group_memberships(engine)["group_memberships"].updated == 1
    assert _leader_type(engine) == "leader"


def test_the_same_change_made_on_both_sides_is_agreed_and_a_later_pco_change_arrives(engine):
    assert _load_after(engine, church_role="leader", pco_role="leader") == "leader"
    assert _conflicts(engine) == []
    _pco_role(engine, "member")  # the base moved to 'leader': PCO alone changed it now
    load_group_memberships(engine)
    assert _leader_type(engine) == "member"


def test_a_role_both_changed_stays_the_churchs_by_the_shipped_policy_and_is_recorded(engine):
    assert _load_after(engine, church_role="coach", pco_role="leader") == "coach"
    assert _conflicts(engine) == [("group_memberships", "leader_type", "coach", "leader", "church_wins")]
