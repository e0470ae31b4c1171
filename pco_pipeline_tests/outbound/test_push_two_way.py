"""The people push plans from the three-way rule (issue 16): what PCO changed is never pushed back,
and the safety brake stops a run that would overwrite a large share of the church. Against the
sandbox over HTTP and the real database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from pco_pipeline.cli import build_parser
from pco_pipeline.commands import push as push_command
from pco_pipeline.pco.client import resource_body
from pco_pipeline.sync.base import seed_base
from pco_pipeline.sync.families_push import run_families_push
from pco_pipeline.sync.people_push import run_people_push
from pco_pipeline.sync.safety_brake import (MIN_RECORDS_SETTING, SHARE_SETTING, SafetyBrakeEngaged, brake_settings,
                                            check_share)
from pco_pipeline.sync.two_way_entities import ENTITIES
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources
from pco_pipeline_tests.outbound.conftest import pco_children, writes


def edit(engine, sql: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def synced_church(engine, client, sandbox, names: list[tuple[str, str]]) -> dict[str, str]:
    """People made in PCO and synced into the church: first name → PCO id."""
    made = {first: client.post("/people/v2/people", resource_body("Person", {"first_name": first,
                                                                             "last_name": last})).id
            for first, last in names}
    sync_webhook_resources(client, engine)
    sandbox.controls.reset_request_log()
    return made


def ledger_sent(engine) -> list[tuple[str, dict]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(
            "SELECT pco_id, sent FROM pco_push_ledger WHERE action = 'update' ORDER BY id"))]


def test_a_field_pco_changed_is_not_pushed_back_before_the_load_takes_it(engine, client, sandbox):
    people = synced_church(engine, client, sandbox, [("Ada", "Byron"), ("Bob", "Adams")])
    ada = people["Ada"]
    # PCO's edit is landed (the extract ran) but not loaded yet; the church edits another field.
    client.patch(f"/people/v2/people/{ada}", resource_body("Person", {"last_name": "King"}, id=ada))
    edit(engine, "UPDATE pco_landing SET normalized = jsonb_set(normalized, '{last_name}', '\"King\"')"
                 " WHERE resource = 'people/people' AND pco_id = :p", p=ada)
    edit(engine, "UPDATE people SET nickname = 'Addie' WHERE pco_id = :p", p=ada)

    run_people_push(engine, client)

    attributes = sandbox.store.require("people/people", ada).attributes
    assert (attributes["last_name"], attributes["nickname"]) == ("King", "Addie")   # PCO's edit kept
    assert ledger_sent(engine) == [(ada, {"nickname": "Addie"})]
    sandbox.controls.reset_request_log()
    run_people_push(engine, client)
    assert writes(sandbox) == []   # the base moved to the nickname PCO confirmed


def test_a_restored_old_backup_stops_the_push_before_anything_is_sent(engine, client, sandbox, monkeypatch):
    names = [(f"Person{n}", f"Now{n}") for n in range(6)]
    people = synced_church(engine, client, sandbox, names)
    monkeypatch.setenv(MIN_RECORDS_SETTING, "2")
    # The backup holds last names from before: half the church's people "changed" at once.
    for first, _ in names[:3]:
        edit(engine, "UPDATE people SET last_name = 'Then' WHERE pco_id = :p", p=people[first])
    edit(engine, "INSERT INTO people (first_name, last_name) VALUES ('New', 'Person')")   # a create waits too

    with pytest.raises(SafetyBrakeEngaged, match=r"change 3 of 6 linked people in PCO \(50%\).*--confirm"):
        run_people_push(engine, client)
    assert writes(sandbox) == [] and ledger_sent(engine) == []
    assert {sandbox.store.require("people/people", people[first]).attributes["last_name"]
            for first, _ in names} == {f"Now{n}" for n in range(6)}

    report = run_people_push(engine, client, confirm_large_change=True)   # staff confirmed this one run
    assert report.counts.by_resource()["Person"]["updated"] == 3
    assert sandbox.store.require("people/people", people["Person0"]).attributes["last_name"] == "Then"


def test_the_brake_lets_ordinary_changes_through_and_names_a_wrong_setting():
    check_share(24, 100, "people in PCO", environ={})            # fewer than the minimum
    check_share(10, 100, "people in PCO", environ={MIN_RECORDS_SETTING: "1"})   # exactly the share
    with pytest.raises(SafetyBrakeEngaged, match="11 of 100"):
        check_share(11, 100, "people in PCO", environ={MIN_RECORDS_SETTING: "1"})
    check_share(11, 100, "people in PCO", confirmed=True, environ={MIN_RECORDS_SETTING: "1"})
    check_share(30, 100, "people in PCO", environ={SHARE_SETTING: "0.5"})
    for setting, value in ((SHARE_SETTING, "ten percent"), (SHARE_SETTING, "0"), (MIN_RECORDS_SETTING, "-3")):
        with pytest.raises(ValueError, match=setting):
            brake_settings({setting: value})


def test_push_confirm_on_the_command_line_lets_one_run_through(run_job, engine, client, sandbox, monkeypatch, capsys):
    names = [(f"Person{n}", f"Now{n}") for n in range(4)]
    people = synced_church(engine, client, sandbox, names)
    monkeypatch.setenv(MIN_RECORDS_SETTING, "2")
    for first, _ in names[:2]:
        edit(engine, "UPDATE people SET last_name = 'Then' WHERE pco_id = :p", p=people[first])
    monkeypatch.setattr(push_command, "run_job", run_job)   # the CLI's job launcher, on the test's instance

    args = build_parser().parse_args(["push", "people"])
    assert args.handler(args) == 1
    assert "would change 2 of 4 linked people in PCO" in capsys.readouterr().err
    assert writes(sandbox) == []

    args = build_parser().parse_args(["push", "people", "--confirm"])
    assert args.handler(args) == 0
    assert [w["method"] for w in writes(sandbox)] == ["PATCH", "PATCH"]


def test_a_family_address_changed_in_the_church_reaches_each_members_pco_address(engine, client, sandbox):
    people = synced_church(engine, client, sandbox, [("Ada", "Byron"), ("Will", "Byron")])
    for pco_id in people.values():
        client.post(f"/people/v2/people/{pco_id}/addresses", resource_body("Address", {
            "street_line_1": "1 Old Rd", "city": "Springfield", "state": "IL", "zip": "62701", "location": "Home"}))
    household = client.post("/people/v2/households", resource_body(
        "Household", {"name": "Byron Household"}, relationships={
            "people": [("Person", people["Ada"]), ("Person", people["Will"])],
            "primary_contact": ("Person", people["Ada"])})).id
    sync_webhook_resources(client, engine)
    with engine.begin() as conn:
        seed_base(conn, ENTITIES["families"])   # what a families load keeping its base leaves
    edit(engine, "UPDATE families SET street_line_1 = '9 New Ave', zip = '62702' WHERE pco_id = :h", h=household)
    sandbox.controls.reset_request_log()

    run_families_push(engine, client)

    addresses = [sandbox.store.require("people/addresses", address.id).attributes
                 for pco_id in people.values() for address in pco_children(sandbox, "people/addresses", pco_id)]
    assert [(a["street_line_1"], a["zip"], a["city"]) for a in addresses] == [("9 New Ave", "62702", "Springfield")] * 2
    assert sorted(w["method"] for w in writes(sandbox)) == ["PATCH", "PATCH"]   # one per member's address
    sandbox.controls.reset_request_log()
    run_families_push(engine, client)
    assert writes(sandbox) == []   # the family's base moved to the address PCO confirmed


def test_a_family_address_pco_changed_is_not_pushed_back(engine, client, sandbox):
    people = synced_church(engine, client, sandbox, [("Ada", "Byron")])
    address = client.post(f"/people/v2/people/{people['Ada']}/addresses", resource_body("Address", {
        "street_line_1": "1 Old Rd", "city": "Springfield", "state": "IL", "zip": "62701", "location": "Home"})).id
    client.post("/people/v2/households", resource_body(
        "Household", {"name": "Byron Household"}, relationships={
            "people": [("Person", people["Ada"])], "primary_contact": ("Person", people["Ada"])}))
    sync_webhook_resources(client, engine)
    with engine.begin() as conn:
        seed_base(conn, ENTITIES["families"])
    # PCO moved Ada; the extract landed it, the load has not run yet.
    client.patch(f"/people/v2/addresses/{address}", resource_body("Address", {"street_line_1": "5 Elm St"}, id=address))
    edit(engine, "UPDATE pco_landing SET normalized = jsonb_set(normalized, '{street_line_1}', '\"5 Elm St\"')"
                 " WHERE resource = 'people/addresses' AND pco_id = :a", a=address)
    sandbox.controls.reset_request_log()

    run_families_push(engine, client)

    assert writes(sandbox) == []
    assert sandbox.store.require("people/addresses", address).attributes["street_line_1"] == "5 Elm St"
