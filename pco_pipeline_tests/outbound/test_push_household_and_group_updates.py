"""The families and group memberships pushes' updates and deletes of records PCO already has
(issue 16 item 5): a household and a group made in PCO, synced in, changed in the church, pushed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pco_pipeline.pco.client import resource_body
from pco_pipeline.sync.families_push import run_families_push
from pco_pipeline.sync.memberships_push import run_group_memberships_push
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources
from pco_pipeline_tests.outbound.conftest import writes
from pco_pipeline_tests.outbound.test_push_updates import edit, pco_person

GROUP = "7001"


@pytest.fixture
def church(engine, client, sandbox):
    """The Byrons (a household of two) and a group Ada leads and Will attends, made in PCO and synced in."""
    ada = pco_person(client, "Ada", "Byron")
    will = pco_person(client, "Will", "Byron")
    household = client.post("/people/v2/households", resource_body(
        "Household", {"name": "Byron Household"},
        relationships={"people": [("Person", ada), ("Person", will)], "primary_contact": ("Person", ada)})).id
    sandbox.load({"groups/group_types": [{"type": "GroupType", "id": "7000", "attributes": {"name": "Classes"}}],
                  "groups/groups": [{"type": "Group", "id": GROUP, "attributes": {
                      "name": "Bible Study", "archived_at": None, "created_at": "2020-01-01T00:00:00Z",
                      "memberships_count": 0},
                      "relationships": {"group_type": {"data": {"type": "GroupType", "id": "7000"}},
                                        "location": {"data": None}}}]})
    memberships = {person: client.post(f"/groups/v2/groups/{GROUP}/memberships", resource_body(
        "Membership", {"person_id": person, "role": role})).id for person, role in ((ada, "leader"), (will, "member"))}
    sync_webhook_resources(client, engine)
    with engine.connect() as conn:
        family = conn.execute(sa.text("SELECT id FROM families WHERE pco_id = :h"), {"h": household}).scalar_one()
        linked = conn.execute(sa.text("SELECT count(*) FROM group_membership WHERE pco_id IS NOT NULL")).scalar_one()
    assert linked == 2
    sandbox.controls.reset_request_log()
    return {"ada": ada, "will": will, "household": household, "family": family, "memberships": memberships}


def household_people(sandbox, household: str) -> set[str]:
    return {ref[1] for ref in sandbox.store.household_people(household)}


def test_a_family_renamed_locally_is_renamed_in_pco(engine, client, sandbox, church):
    edit(engine, "UPDATE families SET name = 'Lovelace-Byron', updated_at = now() WHERE id = :f", f=church["family"])

    report = run_families_push(engine, client)

    assert sandbox.store.get("people/households", church["household"]).attributes["name"] == "Lovelace-Byron"
    assert [(w["method"], w["path"]) for w in writes(sandbox)] == \
        [("PATCH", f"/people/v2/households/{church['household']}")]
    assert report.counts.by_resource()["Household"]["updated"] == 1
    sandbox.controls.reset_request_log()
    run_families_push(engine, client)
    assert writes(sandbox) == []


def test_a_member_taken_out_of_a_family_leaves_the_pco_household(engine, client, sandbox, church):
    edit(engine, "DELETE FROM family_members WHERE family_id = :f AND person_id = (SELECT id FROM people"
                 " WHERE pco_id = :p)", f=church["family"], p=church["will"])

    report = run_families_push(engine, client)

    assert household_people(sandbox, church["household"]) == {church["ada"]}
    assert [w["method"] for w in writes(sandbox)] == ["DELETE"]
    assert report.counts.by_resource()["HouseholdMembership"]["deleted"] == 1
    sandbox.controls.reset_request_log()
    run_families_push(engine, client)
    assert writes(sandbox) == []


def test_a_leader_member_change_on_a_membership_from_pco_is_sent(engine, client, sandbox, church):
    edit(engine, "UPDATE group_membership SET leader_type = 'leader', updated_at = now()"
                 " WHERE pco_id = :m", m=church["memberships"][church["will"]])

    run_group_memberships_push(engine, client)

    membership = sandbox.store.get("groups/memberships", church["memberships"][church["will"]])
    assert membership.attributes["role"] == "leader"
    assert [w["method"] for w in writes(sandbox)] == ["PATCH"]


def test_a_membership_deleted_locally_is_deleted_in_pco(engine, client, sandbox, church):
    gone = church["memberships"][church["will"]]
    edit(engine, "DELETE FROM group_membership WHERE pco_id = :m", m=gone)

    report = run_group_memberships_push(engine, client)

    assert sandbox.store.get("groups/memberships", gone) is None
    assert [(w["method"], w["path"]) for w in writes(sandbox)] == [("DELETE", f"/groups/v2/groups/{GROUP}/memberships/{gone}")]
    assert report.counts.by_resource()["Membership"]["deleted"] == 1
    sandbox.controls.reset_request_log()
    run_group_memberships_push(engine, client)
    assert writes(sandbox) == []


def test_a_family_deleted_locally_is_listed_as_needing_action_in_pco(engine, client, sandbox, church):
    edit(engine, "DELETE FROM families WHERE id = :f", f=church["family"])

    report = run_families_push(engine, client, dry_run=True)

    assert report.plan.needs_action == {"families deleted in the church whose PCO household remains": 1}
    assert f"PCO household {church['household']}" in report.plan.markdown()
    assert household_people(sandbox, church["household"]) == {church["ada"], church["will"]}


def test_a_new_primary_contact_chosen_locally_becomes_the_households(engine, client, sandbox, church):
    edit(engine, "UPDATE family_members SET is_primary_contact = (person_id = (SELECT id FROM people WHERE pco_id = :w))"
                 " WHERE family_id = :f", w=church["will"], f=church["family"])

    run_families_push(engine, client)

    household = sandbox.store.require("people/households", church["household"])
    assert household.attributes["primary_contact_id"] == church["will"]
    with engine.connect() as conn:
        [sent] = conn.execute(sa.text("SELECT sent FROM pco_push_ledger WHERE action = 'update'")).scalars().all()
    assert sent == {"primary_contact_id": church["will"]}     # the name did not change: not sent
    sandbox.controls.reset_request_log()
    run_families_push(engine, client)
    assert writes(sandbox) == []
