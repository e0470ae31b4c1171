"""The safety brake on loads (issue 16 item 8): a load that would write PCO's values over more than
the configured share of the church's linked records of an entity (a wrong mapping, PCO restored
from an old backup) stops before writing anything and says how many and why; a confirmed run
goes through. A first sync (nothing linked) and a one-record load never engage it. Real
PostgreSQL and the real loads; the command line against the sandbox over HTTP."""

from __future__ import annotations

import pytest

from pco_pipeline.cli import build_parser
from pco_pipeline.commands import sync as sync_command
from pco_pipeline.pco.client import PCOClient, resource_body
from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_groups import load_group_memberships, load_groups
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.safety_brake import MIN_RECORDS_SETTING, SafetyBrakeEngaged, large_changes_confirmed
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources
from pco_pipeline_tests.sync.pco_docs import group, group_type, household, land, membership, person, rows

LATER = "2030-01-01T00:00:00Z"   # PCO's edits: after the church's rows were last written
PEOPLE = [str(n) for n in range(1, 5)]


@pytest.fixture(autouse=True)
def small_brake(monkeypatch):
    """The brake engages from 2 changed records (the default 25 would need a large church)."""
    monkeypatch.setenv(MIN_RECORDS_SETTING, "2")


def _state(engine, table: str, entity: str) -> tuple:
    """What the load may write: the table's rows, the entity's base, the conflicts recorded."""
    return (rows(engine, f"SELECT * FROM {table} ORDER BY id"),
            rows(engine, "SELECT * FROM sync_base WHERE entity = :e ORDER BY pco_id", e=entity),
            rows(engine, "SELECT * FROM sync_conflicts ORDER BY id"))


def _people(engine, last: str = "Lee", *, changed: int = 0) -> None:
    """PCO's four people; the first `changed` of them renamed `last` later than the church's rows."""
    land(engine, "people/people", [person(pco_id, f"P{pco_id}", last if n < changed else "Lee",
                                          updated_at=LATER if n < changed else "2026-01-01T00:00:00Z")
                                   for n, pco_id in enumerate(PEOPLE)])


def test_a_people_load_changing_most_of_the_church_stops_and_a_confirmed_one_goes_through(engine):
    _people(engine)
    assert load_people(engine).counts["people"].created == 4   # first sync: nothing linked, no brake
    _people(engine, "Old", changed=3)   # PCO restored from an old backup: 3 of 4 people "changed"
    before = _state(engine, "people", "people")

    with pytest.raises(SafetyBrakeEngaged, match=r"change 3 of 4 linked people in the church database \(75%\): "
                                                 r"PCO changed them .* nothing was written.*--confirm"):
        load_people(engine)
    assert _state(engine, "people", "people") == before

    with large_changes_confirmed():
        assert load_people(engine).counts["people"].updated == 3
    assert [r.last_name for r in rows(engine, "SELECT last_name FROM people ORDER BY pco_id")] == [
        "Old", "Old", "Old", "Lee"]


def test_a_load_of_one_record_or_of_a_small_share_goes_through(engine):
    _people(engine)
    load_people(engine)
    _people(engine, "Ray", changed=1)
    assert load_people(engine, pco_ids=["1"]).counts["people"].updated == 1   # a webhook's one person
    for pco_id in PEOPLE[1:]:
        land(engine, "people/people", [person(pco_id, f"P{pco_id}", "Ray", updated_at=LATER)])
        load_people(engine, pco_ids=[pco_id])
    assert {r.last_name for r in rows(engine, "SELECT last_name FROM people")} == {"Ray"}


def test_a_families_load_renaming_most_families_stops(engine):
    _people(engine)
    load_people(engine)
    households = [household(f"h{p}", f"Family {p}", [p], primary_contact=p) for p in PEOPLE]
    land(engine, "people/households", households)
    load_families(engine)
    land(engine, "people/households", [household(f"h{p}", "Wrong Name", [p], primary_contact=p, updated_at=LATER)
                                       for p in PEOPLE[:2]])
    before = _state(engine, "families", "families")

    with pytest.raises(SafetyBrakeEngaged, match=r"change 2 of 4 linked families in the church database \(50%\)"):
        load_families(engine)
    assert _state(engine, "families", "families") == before


def test_a_memberships_load_changing_most_roles_stops(engine):
    _people(engine)
    load_people(engine)
    land(engine, "groups/group_types", [group_type("t1", "Small Groups")], listing=True)
    land(engine, "groups/groups", [group("g1", "Tuesday", "t1")], listing=True)
    load_groups(engine)
    land(engine, "groups/memberships", [membership(f"m{p}", "g1", p) for p in PEOPLE], parent_pco_id="g1")
    load_group_memberships(engine)
    land(engine, "groups/memberships", [membership(f"m{p}", "g1", p, "leader") for p in PEOPLE[:3]],
         parent_pco_id="g1")
    before = _state(engine, "group_membership", "group_memberships")

    with pytest.raises(SafetyBrakeEngaged, match=r"change 3 of 4 linked group memberships in the church database"):
        load_group_memberships(engine)
    assert _state(engine, "group_membership", "group_memberships") == before


def test_sync_confirm_on_the_command_line_lets_one_run_through(run_job, engine, pco, monkeypatch, capsys):
    monkeypatch.setattr(sync_command, "run_job", run_job)   # the CLI's job launcher, on the test's instance
    made = []
    with PCOClient(pco.pco_config()) as client:
        for first in ("Ann", "Bob", "Cy", "Di"):
            made.append(client.post("/people/v2/people", resource_body(
                "Person", {"first_name": first, "last_name": "Lee"})).id)
        sync_webhook_resources(client, engine)   # the first sync links everyone: nothing was linked, no brake
        for pco_id in made[:3]:
            client.patch(f"/people/v2/people/{pco_id}", resource_body("Person", {"last_name": "Old"}, id=pco_id))

    args = build_parser().parse_args(["sync", "people"])
    assert args.handler(args) == 1
    assert "would change 3 of 4 linked people in the church database (75%)" in capsys.readouterr().err
    assert {r.last_name for r in rows(engine, "SELECT last_name FROM people")} == {"Lee"}
    (logged,) = rows(engine, "SELECT status, error_message FROM pco_sync_log ORDER BY id DESC LIMIT 1")
    assert logged.status == "failed" and "safety brake" in logged.error_message   # what `history` shows

    args = build_parser().parse_args(["sync", "people", "--confirm"])
    assert args.handler(args) == 0
    assert sorted(r.last_name for r in rows(engine, "SELECT last_name FROM people")) == ["Lee", "Old", "Old", "Old"]
