"""The push jobs through Dagster on the seeded church: pull, dry run, push, pull again — no duplicates
on either side, identical data, only permitted writes; plus the run log and the CLI command."""

import re
from collections import Counter

import sqlalchemy as sa

from pco_pipeline.cli import build_parser
from pco_pipeline.commands import push as push_command
from pco_pipeline.defs.outbound.jobs import dry_run_config
from pco_pipeline.sync.normalize import normalize_email
from pco_pipeline.sync.reconcile import reconcile
from pco_pipeline_tests.outbound.conftest import add_person, mark_people_read, pco_children, writes
from pco_pipeline_tests.sandbox_fixtures import materialized, seed_church

PEOPLE = 60
# Everything a push may write: people and their contacts, households and their members, group memberships.
PERMITTED_WRITES = re.compile(
    r"^/people/v2/(people|households)$|^/people/v2/people/\d+/(emails|phone_numbers|addresses)$"
    r"|^/people/v2/households/\d+/household_memberships$|^/groups/v2/groups/\d+/memberships(/\d+)?$")


def step_outputs(result) -> dict[str, dict]:
    return {event.step_key: {k: v.value for k, v in event.event_specific_data.metadata.items()}
            for event in result.all_events if event.is_successful_output}


def local_state(engine) -> dict:
    with engine.connect() as conn:
        return {
            "people": conn.execute(sa.text("SELECT count(*) FROM people")).scalar(),
            "unlinked_people": conn.execute(sa.text("SELECT count(*) FROM people WHERE pco_id IS NULL")).scalar(),
            "families": conn.execute(sa.text("SELECT count(*) FROM families")).scalar(),
            "memberships": conn.execute(sa.text("SELECT count(*) FROM group_membership")).scalar(),
        }


def test_pull_dry_run_push_pull_round_trip(run_job, engine, sandbox):
    seed_church(sandbox, people=PEOPLE, seed=11, engine=engine)
    assert run_job("full_sync").success
    with engine.begin() as conn:
        # Unlinked church people join a PCO group at church: pushed once they are in PCO.
        conn.execute(sa.text("""
            INSERT INTO group_membership (group_id, person_id, leader_type, joined_at)
            SELECT (SELECT min(id) FROM church_group WHERE level = 3 AND pco_id IS NOT NULL AND is_active),
                   p.id, CASE WHEN p.id % 3 = 0 THEN 'leader' ELSE 'coach' END, now() - interval '3 days'
            FROM people p WHERE p.pco_id IS NULL ON CONFLICT DO NOTHING"""))
    before = local_state(engine)
    pco_people_before = {r.id for r in sandbox.store.all("people/people")}
    households_before = {r.id for r in sandbox.store.all("people/households")}

    # A dry run: the plan, and no request at all.
    sandbox.controls.reset_request_log()
    dry = run_job("full_push", dry_run_config("full_push"))
    assert dry.success
    assert sandbox.controls.request_log() == []
    plans = step_outputs(dry)
    assert plans["people_to_pco"]["dry_run"] is True
    assert plans["people_to_pco"]["planned"]["create Person"] == before["unlinked_people"] - \
        plans["people_to_pco"]["planned"].get("skip people (possible_duplicate)", 0)
    assert re.search(r"^\| \d+ \| create \| Person \|", plans["people_to_pco"]["plan"], re.MULTILINE)
    assert local_state(engine) == before
    with engine.connect() as conn:
        dry_log = conn.execute(sa.text("SELECT direction, status, created_count, updated_count, failed_count,"
                                       " requests_used FROM pco_sync_log WHERE run_id = :r"), {"r": dry.run_id}).one()
    assert tuple(dry_log) == ("outbound", "success", 0, 0, 0, 0)

    result = run_job("full_push")
    assert result.success
    outputs = step_outputs(result)
    log = sandbox.controls.request_log()
    assert {r["path"] for r in writes(sandbox) if not PERMITTED_WRITES.match(r["path"])} == set()
    assert not [r for r in log if r["path"].startswith(("/check-ins", "/calendar"))]

    # PCO: each pushed person once, under its local id, with the church's values and contacts.
    with engine.connect() as conn:
        pushed = {row.id: row for row in conn.execute(sa.text(
            "SELECT id, pco_id, first_name, last_name, birthdate, gender, child, grade, membership FROM people"
            " WHERE pco_id IS NOT NULL AND NOT (pco_id = ANY(:before))"), {"before": list(pco_people_before)})}
        emails = Counter((pid, normalize_email(a)) for pid, a in conn.execute(sa.text(
            "SELECT person_id, address FROM person_emails WHERE person_id = ANY(:p)"), {"p": list(pushed)}))
        linked_households = Counter(conn.execute(sa.text("SELECT pco_id FROM families WHERE pco_id IS NOT NULL"))
                                    .scalars())
    assert outputs["people_to_pco"]["created"] > 0 and len(pushed) == plans["people_to_pco"]["planned"]["create Person"]
    remote_ids = Counter(r.attributes.get("remote_id") for r in sandbox.store.all("people/people")
                         if r.id not in pco_people_before)
    assert remote_ids == Counter(list(pushed))
    for local_id, row in pushed.items():
        record = sandbox.store.get("people/people", row.pco_id).attributes
        assert (record["first_name"], record["last_name"], record["gender"], record["child"], record["grade"],
                record["membership"]) == (row.first_name, row.last_name, row.gender, row.child, row.grade,
                                          row.membership)
        assert record["birthdate"] == (row.birthdate.isoformat() if row.birthdate else None)
        assert Counter((local_id, normalize_email(e.attributes["address"]))
                       for e in pco_children(sandbox, "people/emails", row.pco_id)) == \
            Counter({k: n for k, n in emails.items() if k[0] == local_id})
    new_households = {r.id for r in sandbox.store.all("people/households")} - households_before
    assert len(new_households) == outputs["families_to_pco"]["outcomes_by_resource"]["Household"]["created"] > 0
    assert all(linked_households[h] == 1 for h in new_households)   # each one family's, once
    memberships = Counter((m.rel_ids("group")[0], m.rel_ids("person")[0])
                          for m in sandbox.store.all("groups/memberships"))
    assert max(memberships.values()) == 1
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT sync_type, direction, status, created_count, failed_count, requests_used"
                                    " FROM pco_sync_log"
                                    " WHERE run_id = :r"), {"r": result.run_id}).one()
    # the seeded church has people the push must not send (possible duplicates): the run finished,
    # but says so — `partial`, with every record it left in the quarantine counted as failed
    held_back = sum(o["skipped"] + o["failed"] for o in outputs.values())
    assert held_back > 0
    assert (runs.sync_type, runs.direction, runs.status, runs.failed_count) == (
        "full_push", "outbound", "partial", held_back)
    assert runs.created_count == sum(o["created"] for o in outputs.values())
    assert runs.requests_used == len(log)

    # Pull again: nothing new, nothing changed, nothing duplicated; the reconciliation agrees.
    pulled = run_job("full_sync")
    assert pulled.success
    for key, metadata in materialized(pulled).items():
        if key.startswith("church/"):
            assert (metadata["created"], metadata["updated"], metadata["deactivated"]) == (0, 0, 0), key
    after = local_state(engine)
    assert after["people"] == before["people"] and after["families"] == before["families"]
    report = reconcile(engine)
    assert report.in_sync, report.table()

    # And a second push finds nothing to do.
    sandbox.controls.reset_request_log()
    again = step_outputs(run_job("full_push"))
    assert sandbox.controls.request_log() == []
    assert all(o["created"] == o["updated"] == o["adopted"] == 0 for o in again.values())


def test_a_push_before_the_first_pull_fails_and_says_why(run_job, engine, sandbox):
    with engine.begin() as conn:
        add_person(conn, "Ann", "Lee")
    result = run_job("push_people")
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "sync people" in failure.event_specific_data.error.message
    assert sandbox.controls.request_log() == []
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT sync_type, direction, status, error_message FROM pco_sync_log")).one()
    assert (row.sync_type, row.direction, row.status) == ("push_people", "outbound", "failed")
    assert "sync people" in row.error_message


def test_cli_dry_run_prints_the_plan_and_sends_nothing(run_job, engine, sandbox, monkeypatch, capsys):
    with engine.begin() as conn:
        add_person(conn, "Ann", "Lee", email="ann@example.org")
    mark_people_read(engine)
    ran = []

    def run_in_test(job_name, run_config=None):   # the CLI's job launcher, on the test's instance
        ran.append((job_name, run_config))
        return run_job(job_name, run_config)

    monkeypatch.setattr(push_command, "run_job", run_in_test)
    args = build_parser().parse_args(["push", "people", "--dry-run"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert ran == [("push_people", {"ops": {"people_to_pco": {"config": {"dry_run": True}}}})]
    assert "people_to_pco: dry run, 2 writes planned, nothing sent" in out
    assert "create Person: 1" in out and "| address | ann@example.org |" in out
    assert sandbox.controls.request_log() == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM people WHERE pco_id IS NOT NULL")).scalar() == 0
