"""Who is in a family, two-way (issue 16 items 1 and 5): a member added or taken out on either
side reaches the other through the push or the sync, the next run does not revert it, a primary
contact both sides chose differently is a conflict its policy decides, and a re-push sends nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pco_pipeline.pco.client import resource_body
from pco_pipeline.sync.conflicts import resolve_conflict
from pco_pipeline.sync.extract import extract_resource
from pco_pipeline.sync.families_push import run_families_push
from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_people import load_people
from pco_pipeline_tests.outbound.conftest import writes
from pco_pipeline_tests.outbound.test_push_updates import edit, pco_person


def sync(client, engine) -> None:
    """What a families sync does: extract people and households, load them."""
    for resource in ("people/people", "people/households"):
        extract_resource(client, engine, resource)
    load_people(engine)
    load_families(engine)


@pytest.fixture
def church(engine, client, sandbox):
    """The Byrons (Ada, the primary contact, and Will) made in PCO with Cy, a person in no
    household, all synced in."""
    ada, will, cy = (pco_person(client, first, "Byron") for first in ("Ada", "Will", "Cy"))
    household = client.post("/people/v2/households", resource_body(
        "Household", {"name": "Byron Household"},
        relationships={"people": [("Person", ada), ("Person", will)], "primary_contact": ("Person", ada)})).id
    sync(client, engine)
    with engine.connect() as conn:
        family = conn.execute(sa.text("SELECT id FROM families WHERE pco_id = :h"), {"h": household}).scalar_one()
    sandbox.controls.reset_request_log()
    return {"ada": ada, "will": will, "cy": cy, "household": household, "family": family}


def pco_members(sandbox, household: str) -> set[str]:
    return {ref[1] for ref in sandbox.store.household_people(household)}


def church_members(engine, family: int) -> dict[str, bool]:
    """The family's members (PCO person id → is the primary contact)."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT p.pco_id, fm.is_primary_contact FROM family_members fm JOIN people p ON p.id = fm.person_id"
            " WHERE fm.family_id = :f"), {"f": family}).all())


def add_to_family(engine, family: int, pco_id: str) -> None:
    edit(engine, "INSERT INTO family_members (family_id, person_id, role) SELECT :f, id, 'other' FROM people"
                 " WHERE pco_id = :p", f=family, p=pco_id)


def take_out_of_family(engine, family: int, pco_id: str) -> None:
    edit(engine, "DELETE FROM family_members WHERE family_id = :f AND person_id = (SELECT id FROM people"
                 " WHERE pco_id = :p)", f=family, p=pco_id)


def pco_membership(client, household: str, person: str) -> str:
    return next(m.id for m in client.iter_records(f"/people/v2/households/{household}/household_memberships")
                if m.relationship_ids("person") == [person])


def test_a_member_added_in_the_church_joins_the_pco_household_and_stays(engine, client, sandbox, church):
    add_to_family(engine, church["family"], church["cy"])
    sync(client, engine)   # a sync before the push keeps the church's new member
    assert church["cy"] in church_members(engine, church["family"])
    planned = run_families_push(engine, client, dry_run=True)
    assert writes(sandbox) == [] and "HouseholdMembership" in planned.plan.markdown()

    report = run_families_push(engine, client)

    assert pco_members(sandbox, church["household"]) == {church["ada"], church["will"], church["cy"]}
    assert [(w["method"], w["path"]) for w in writes(sandbox)] == [
        ("POST", f"/people/v2/households/{church['household']}/household_memberships")]
    assert report.counts.by_resource()["HouseholdMembership"]["created"] == 1
    sandbox.controls.reset_request_log()
    run_families_push(engine, client)
    assert writes(sandbox) == []
    sync(client, engine)
    run_families_push(engine, client)
    assert writes(sandbox) == []
    assert set(church_members(engine, church["family"])) == {church["ada"], church["will"], church["cy"]}


def test_a_member_taken_out_in_the_church_leaves_the_pco_household_and_is_not_brought_back(
        engine, client, sandbox, church):
    take_out_of_family(engine, church["family"], church["will"])
    sync(client, engine)   # PCO still lists Will: the removal waits for the push
    assert set(church_members(engine, church["family"])) == {church["ada"]}

    run_families_push(engine, client)

    assert pco_members(sandbox, church["household"]) == {church["ada"]}
    assert [w["method"] for w in writes(sandbox)] == ["DELETE"]
    sandbox.controls.reset_request_log()
    sync(client, engine)
    run_families_push(engine, client)
    assert writes(sandbox) == []
    assert set(church_members(engine, church["family"])) == {church["ada"]}


def test_members_pco_adds_and_takes_out_reach_the_church_and_are_not_pushed_back(engine, client, sandbox, church):
    household = church["household"]
    client.post(f"/people/v2/households/{household}/household_memberships",
                resource_body("HouseholdMembership", {"pending": False},
                              relationships={"person": ("Person", church["cy"])}))
    client.delete(f"/people/v2/households/{household}/household_memberships/"
                  f"{pco_membership(client, household, church['will'])}")
    sandbox.controls.reset_request_log()

    sync(client, engine)
    run_families_push(engine, client)

    assert church_members(engine, church["family"]) == {church["ada"]: True, church["cy"]: False}
    assert writes(sandbox) == []


def test_a_member_the_church_added_is_kept_while_pco_takes_out_another(engine, client, sandbox, church):
    add_to_family(engine, church["family"], church["cy"])
    household = church["household"]
    client.delete(f"/people/v2/households/{household}/household_memberships/"
                  f"{pco_membership(client, household, church['will'])}")
    sandbox.controls.reset_request_log()

    sync(client, engine)
    run_families_push(engine, client)

    assert set(church_members(engine, church["family"])) == {church["ada"], church["cy"]}
    assert pco_members(sandbox, household) == {church["ada"], church["cy"]}


def test_a_primary_contact_both_sides_chose_differently_is_a_conflict_pco_wins(engine, client, sandbox, church):
    add_to_family(engine, church["family"], church["cy"])
    run_families_push(engine, client)   # Cy is in both; all three agreed
    sync(client, engine)
    edit(engine, "UPDATE family_members SET is_primary_contact = (person_id = (SELECT id FROM people"
                 " WHERE pco_id = :w)) WHERE family_id = :f", w=church["will"], f=church["family"])
    client.patch(f"/people/v2/households/{church['household']}", resource_body(
        "Household", {"primary_contact_id": church["cy"]}, id=church["household"]))
    sandbox.controls.reset_request_log()

    extract_resource(client, engine, "people/households")
    run_families_push(engine, client)   # landed, not loaded yet: PCO changed the contact too, nothing is sent
    assert writes(sandbox) == []
    sync(client, engine)

    assert church_members(engine, church["family"]) == {church["ada"]: False, church["will"]: False,
                                                        church["cy"]: True}
    with engine.connect() as conn:
        recorded = conn.execute(sa.text(
            "SELECT pco_id, church_value, pco_value, outcome, decided_by FROM sync_conflicts"
            " WHERE entity = 'family_members' ORDER BY pco_id")).all()
    assert sorted((r.pco_id.split(":")[1], r.church_value, r.pco_value, r.outcome, r.decided_by)
                  for r in recorded) == sorted([
                      (church["will"], True, False, "pco_wins", "policy pco"),
                      (church["cy"], False, True, "pco_wins", "policy pco")])
    run_families_push(engine, client)
    assert writes(sandbox) == []
    assert sandbox.store.require("people/households", church["household"]).attributes[
        "primary_contact_id"] == church["cy"]


def test_a_member_taken_out_in_the_church_whom_pco_made_primary_contact_is_a_conflict(
        engine, client, sandbox, church):
    take_out_of_family(engine, church["family"], church["will"])
    client.patch(f"/people/v2/households/{church['household']}", resource_body(
        "Household", {"primary_contact_id": church["will"]}, id=church["household"]))
    sandbox.controls.reset_request_log()

    sync(client, engine)

    # The policy (pco) gives PCO's side: Will is back, as the primary contact; nothing is deleted.
    assert church_members(engine, church["family"]) == {church["ada"]: False, church["will"]: True}
    with engine.connect() as conn:
        [conflict] = conn.execute(sa.text(
            "SELECT pco_id, church_value, pco_value, outcome FROM sync_conflicts WHERE entity = 'family_members'"
        )).all()
    assert (conflict.pco_id, conflict.church_value, conflict.pco_value, conflict.outcome) == (
        f"{church['household']}:{church['will']}", None, True, "pco_wins")
    run_families_push(engine, client)
    assert writes(sandbox) == []
    assert pco_members(sandbox, church["household"]) == {church["ada"], church["will"]}


def test_a_member_conflict_held_for_a_person_waits_then_staff_decide_it(
        engine, client, sandbox, church, tmp_path, monkeypatch):
    policies = tmp_path / "policies.toml"
    policies.write_text('[family_members]\nis_primary_contact = "manual"\n', encoding="utf-8")
    monkeypatch.setenv("PCO_SYNC_POLICIES", str(policies))
    take_out_of_family(engine, church["family"], church["will"])
    client.patch(f"/people/v2/households/{church['household']}", resource_body(
        "Household", {"primary_contact_id": church["will"]}, id=church["household"]))
    sandbox.controls.reset_request_log()

    sync(client, engine)
    run_families_push(engine, client)

    # Held: Will stays out of the family, and in PCO's household (Ada's flag, which only PCO
    # changed, follows PCO: she is no longer the primary contact).
    assert church_members(engine, church["family"]) == {church["ada"]: False}
    assert pco_members(sandbox, church["household"]) == {church["ada"], church["will"]}
    assert writes(sandbox) == []
    with engine.begin() as conn:
        [conflict] = conn.execute(sa.text(
            "SELECT id, outcome, decided_at FROM sync_conflicts WHERE entity = 'family_members'")).all()
        assert (conflict.outcome, conflict.decided_at) == ("held", None)
        resolve_conflict(conn, conflict.id, decided_by="staff", take="pco")

    sync(client, engine)

    assert church_members(engine, church["family"]) == {church["ada"]: False, church["will"]: True}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT applied_at IS NOT NULL FROM sync_conflicts WHERE id = :id"),
                            {"id": conflict.id}).scalar_one()
    run_families_push(engine, client)
    assert writes(sandbox) == []
