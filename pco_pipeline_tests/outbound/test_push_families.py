"""push_families against the sandbox over HTTP: households with their members and primary contact,
members added later with pending: false, and families PCO may already have left alone."""

import json

import pytest
import sqlalchemy as sa

from pco_pipeline.sync.push import PushAborted
from pco_pipeline.sync.families_push import run_families_push
from pco_pipeline.sync.people_push import run_people_push
from pco_pipeline_tests.outbound.conftest import (add_family, add_person, mark_people_read, open_quarantine,
                                                  pco_people_by_remote_id, writes)


def mark_households_read(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO pco_listing (resource, started_at, finished_at)"
                             " VALUES ('people/households', now(), now())"))


def land_household(engine, household_id: str, people: list[str], name: str) -> None:
    """What the inbound extract leaves for a PCO household it read."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO pco_landing (resource, pco_id, attributes, relationships, normalized)"
            " VALUES ('people/households', :id, CAST(:attributes AS jsonb), CAST(:rel AS jsonb),"
            " CAST(:normalized AS jsonb))"),
            {"id": household_id, "attributes": json.dumps({"name": name}),
             "rel": json.dumps({"people": people, "primary_contact": people[0]}),
             "normalized": json.dumps({"name": name, "problems": []})})


def household_members(sandbox, household_id: str) -> dict[str, bool]:
    """person id → pending, for one PCO household."""
    return {m.rel_ids("person")[0]: m.attributes["pending"] for m in sandbox.store.all("people/household_memberships")
            if m.rel_ids("household") == [household_id]}


def test_a_family_becomes_a_household_with_its_members_and_primary_contact(engine, client, sandbox):
    with engine.begin() as conn:
        ann = add_person(conn, "Ann", "Lee")
        bob = add_person(conn, "Bob", "Lee")
        cid = add_person(conn, "Cid", "Lee", child=True)
        family = add_family(conn, "The Lee Family", [bob, ann, cid], primary=ann)
    mark_people_read(engine)
    mark_households_read(engine)
    run_people_push(engine, client)
    sandbox.controls.reset_request_log()

    report = run_families_push(engine, client)

    assert [(r["method"], r["path"]) for r in sandbox.controls.request_log()] == [("POST", "/people/v2/households")]
    assert report.counts.totals()["created"] == 1
    [household] = sandbox.store.all("people/households")
    pco = {local: records[0].id for local, records in pco_people_by_remote_id(sandbox).items()}
    assert household.attributes["name"] == "The Lee Family"
    assert household.rel_ids("primary_contact") == [pco[ann]]
    assert household_members(sandbox, household.id) == {pco[ann]: False, pco[bob]: False, pco[cid]: False}
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT pco_id FROM families WHERE id = :f"), {"f": family}).scalar()
    assert stored == household.id

    sandbox.controls.reset_request_log()
    run_families_push(engine, client)
    assert sandbox.controls.request_log() == []


def test_a_member_pushed_later_is_added_to_the_household_without_pending(engine, client, sandbox):
    parent = sandbox.controls.create_person(first_name="Pat", last_name="Ng")
    household = sandbox.controls.create("people/households", {"name": "Ng"}, relationships={
        "people": {"data": [{"type": "Person", "id": parent.id}]},
        "primary_contact": {"data": {"type": "Person", "id": parent.id}}})
    with engine.begin() as conn:
        pat = add_person(conn, "Pat", "Ng", pco_id=parent.id)
        baby = add_person(conn, "Newborn", "Ng", child=True)
        family = add_family(conn, "Ng", [pat, baby])
        conn.execute(sa.text("UPDATE families SET pco_id = :h WHERE id = :f"), {"h": household.id, "f": family})
    land_household(engine, household.id, [parent.id], "Ng")
    mark_people_read(engine)
    mark_households_read(engine)
    run_people_push(engine, client)
    [baby_pco] = pco_people_by_remote_id(sandbox)[baby]
    sandbox.controls.reset_request_log()

    run_families_push(engine, client)

    assert [(r["method"], r["path"]) for r in sandbox.controls.request_log()] == [
        ("GET", f"/people/v2/households/{household.id}"),
        ("POST", f"/people/v2/households/{household.id}/household_memberships")]
    assert household_members(sandbox, household.id) == {parent.id: False, baby_pco.id: False}
    assert sandbox.store.count("people/households") == 1
    sandbox.controls.reset_request_log()
    run_families_push(engine, client)
    assert sandbox.controls.request_log() == []


def test_a_family_whose_members_pco_already_houses_is_not_duplicated(engine, client, sandbox):
    parent = sandbox.controls.create_person(first_name="Kim", last_name="Cho")
    household = sandbox.controls.create("people/households", {"name": "Cho"}, relationships={
        "people": {"data": [{"type": "Person", "id": parent.id}]},
        "primary_contact": {"data": {"type": "Person", "id": parent.id}}})
    with engine.begin() as conn:
        kim = add_person(conn, "Kim", "Cho", pco_id=parent.id)
        church_copy = add_family(conn, "The Cho Family", [kim])      # the church's own row for it
        add_family(conn, "Nobody In PCO", [add_person(conn, "New", "Person")])
        from_pco = add_family(conn, "Cho", [kim])
        conn.execute(sa.text("UPDATE families SET pco_id = :h WHERE id = :f"), {"h": household.id, "f": from_pco})
    land_household(engine, household.id, [parent.id], "Cho")
    mark_households_read(engine)

    report = run_families_push(engine, None, dry_run=True)
    assert report.plan.notes["families with no member in PCO yet (push people first)"] == 1
    run_families_push(engine, client)

    assert writes(sandbox) == []
    [(code, reason)] = open_quarantine(engine, "push_families").values()
    assert code == "possible_duplicate" and household.id in reason and f"family {church_copy}" in reason


def test_families_wait_for_the_inbound_households_sync(engine, client, sandbox):
    with engine.begin() as conn:
        add_family(conn, "Lee", [add_person(conn, "Ann", "Lee", pco_id="1")])
    with pytest.raises(PushAborted, match="sync families"):
        run_families_push(engine, client)
    assert sandbox.controls.request_log() == []
