"""`pco-pipeline push … --dry-run` shows, per linked record and field, base → church → PCO →
planned action and the conflicts a real run would record, and writes nothing (issue 16 item 9).
Against the sandbox over HTTP and the real database."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from pco_pipeline.cli import build_parser
from pco_pipeline.commands import push as push_command
from pco_pipeline.pco.client import resource_body
from pco_pipeline.sync.field_plan import PUSH_ENTITIES, field_plan
from pco_pipeline.sync.people_push import run_people_push
from pco_pipeline.sync.quarantine import INVALID_DATA
from pco_pipeline.sync.two_way_entities import ENTITIES
from pco_pipeline_tests.outbound.conftest import writes
from pco_pipeline_tests.outbound.test_push_two_way import edit, synced_church


def changed_on_both_sides(engine, client, sandbox) -> dict[str, str]:
    """Three synced people: Ada's last name edited in the church, Bob's nickname in PCO, Cy's last
    name on both sides to different values (PCO's edits landed, not loaded yet)."""
    people = synced_church(engine, client, sandbox, [("Ada", "Byron"), ("Bob", "Adams"), ("Cy", "Clark")])
    edit(engine, "UPDATE people SET last_name = 'Lovelace' WHERE pco_id = :p", p=people["Ada"])
    edit(engine, "UPDATE people SET last_name = 'Church-Clark' WHERE pco_id = :p", p=people["Cy"])
    for first, attribute, value in (("Bob", "nickname", "Bobby"), ("Cy", "last_name", "Pco-Clark")):
        pco_id = people[first]
        client.patch(f"/people/v2/people/{pco_id}", resource_body("Person", {attribute: value}, id=pco_id))
        edit(engine, "UPDATE pco_landing SET normalized = jsonb_set(normalized, CAST(:path AS text[]), to_jsonb("
                     "CAST(:value AS text))) WHERE resource = 'people/people' AND pco_id = :p",
             path=[attribute], value=value, p=pco_id)
    sandbox.controls.reset_request_log()
    return people


def two_way_state(engine) -> dict[str, list]:
    with engine.connect() as conn:
        return {table: [tuple(row) for row in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1, 2"))]
                for table in ("sync_conflicts", "sync_base", "pco_push_ledger", "people", "church_deletions")}


def test_push_dry_run_shows_each_field_base_church_pco_and_action_and_writes_nothing(
        run_job, engine, client, sandbox, monkeypatch, capsys):
    people = changed_on_both_sides(engine, client, sandbox)
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.text("SELECT first_name, id FROM people")).all())
    before = two_way_state(engine)
    monkeypatch.setattr(push_command, "run_job", run_job)   # the CLI's job launcher, on the test's instance

    args = build_parser().parse_args(["push", "people", "--dry-run"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out

    assert (f"| people {ids['Ada']} (PCO {people['Ada']}) | last_name | Byron | Lovelace | Byron | send to PCO |"
            in out)
    assert (f"| people {ids['Bob']} (PCO {people['Bob']}) | nickname | (blank) | (blank) | Bobby "
            "| write locally (next sync) |" in out)
    assert (f"| people {ids['Cy']} (PCO {people['Cy']}) | last_name | Clark | Church-Clark | Pco-Clark "
            "| conflict decided by pco → PCO's value written locally (next sync) |" in out)
    assert "conflicts a real run would record: 1" in out
    assert (f"| people {ids['Cy']} (PCO {people['Cy']}) | last_name | pco | Church-Clark | Pco-Clark "
            "| conflict decided by pco → PCO's value written locally (next sync) | new |" in out)
    # Nothing sent, nothing written: no conflict recorded, no base moved, no ledger row.
    assert writes(sandbox) == []
    assert two_way_state(engine) == before

    # The real run does what the dry run said: Ada's name sent, Cy's conflict recorded, Bob's nickname left alone.
    args = build_parser().parse_args(["push", "people"])
    assert args.handler(args) == 0
    assert [(w["method"], w["path"]) for w in writes(sandbox)] == [("PATCH", f"/people/v2/people/{people['Ada']}")]
    with engine.connect() as conn:
        recorded = conn.execute(sa.text("SELECT pco_id, field, decided_by FROM sync_conflicts")).all()
    assert [tuple(row) for row in recorded] == [(people["Cy"], "last_name", "policy pco")]


def test_the_field_table_is_bounded_and_a_deleted_record_is_one_row(engine, client, sandbox):
    people = changed_on_both_sides(engine, client, sandbox)
    with engine.connect() as conn:
        bob = conn.execute(sa.text("SELECT id FROM people WHERE pco_id = :p"), {"p": people["Bob"]}).scalar_one()
    edit(engine, "DELETE FROM people WHERE id = :id", id=bob)   # while PCO changed his nickname

    table = field_plan(engine, "people", table_rows=2)

    assert len(table.rows) == 2 and table.total == 4
    assert table.counts() == {
        "people: send to PCO": 1,
        "people: conflict decided by pco → PCO's value written locally (next sync)": 2,
        "people: deleted in the church → the push follows in PCO": 1,
        "people: conflicts to record": 2}
    assert "… and 2 more fields (counted above)." in table.markdown()
    everything = field_plan(engine, "people").markdown()
    assert (f"| people {bob} (PCO {people['Bob']}) | (record) | (linked) | (deleted) | (present) "
            "| deleted in the church → the push follows in PCO |") in everything
    assert (f"| people {bob} (PCO {people['Bob']}) | nickname | (blank) | (deleted) | Bobby "
            "| conflict decided by pco → PCO's value written locally (next sync) |") in everything
    # Every two-way entity belongs to one push, and the other pushes' entities have nothing to show here.
    assert sorted(entity for entities in PUSH_ENTITIES.values() for entity in entities) == sorted(ENTITIES)
    assert field_plan(engine, "families").total == field_plan(engine, "group_memberships").total == 0


def test_a_church_value_pco_would_refuse_shows_as_held_not_sent(engine, client, sandbox):
    people = synced_church(engine, client, sandbox, [("Di", "Dunn")])
    edit(engine, "UPDATE people SET birthdate = '2999-01-01' WHERE pco_id = :p", p=people["Di"])

    report = run_people_push(engine, None, dry_run=True)
    table = field_plan(engine, "people", held=report.plan.held_fields)

    assert [(row.field, row.church, row.action) for row in table.rows] == [
        ("birthdate", date(2999, 1, 1), f"held ({INVALID_DATA})")]
