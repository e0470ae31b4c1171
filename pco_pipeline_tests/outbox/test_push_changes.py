"""push_church_changes_sensor and push_changes: a church edit made with plain SQL (as another
application would) is handed to a run by the sensor, pushed to the sandbox over HTTP by the push
engine, and its outbox row marked; nothing the pipeline writes back echoes; a run that dies leaves
its rows to be handed out again. The daemon's loop itself is not run here: each tick is one
`build_sensor_context` evaluation, each run one in-process execution of what the tick asked for."""

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.outbound.church_changes import BATCH_ENV, push_church_changes_sweep
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.pco.resources import PCOResource
from pco_pipeline.sync import outbox
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources
from pco_pipeline_tests.outbound.conftest import writes
from pco_pipeline_tests.outbound.test_push_two_way import synced_church
from pco_pipeline_tests.outbox.conftest import outbox_rows, run_request, sensor_tick
from pco_sandbox.auth import DEMO_APP_ID


def edit(engine: sa.Engine, sql: str, **params) -> None:
    """A write by another application: its own connection, no pipeline mark."""
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def pco_person(sandbox, pco_id: str) -> dict:
    return sandbox.store.require("people/people", pco_id).attributes


def test_an_edit_made_with_plain_sql_reaches_pco_through_the_sensors_run(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    people = synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron"), ("Bob", "Adams")])
    assert outbox_rows(engine) == []          # the sync wrote the church's people: not an edit to push

    edit(engine, "UPDATE people SET nickname = 'Addie' WHERE pco_id = :p", p=people["Ada"])
    tick = sensor_tick(database_url, instance, cursor=None)
    (request,) = tick.run_requests or []
    (row,) = outbox_rows(engine)
    assert request.run_key == f"church-changes:{row.id}-{row.id}" and tick.cursor == str(row.id)
    assert sensor_tick(database_url, instance, cursor=tick.cursor).run_requests == []   # handed out once

    result = run_request(tick, resources, instance)

    assert result.success
    assert pco_person(sandbox, people["Ada"])["nickname"] == "Addie"
    assert [(r["method"], r["path"]) for r in writes(sandbox)] == [("PATCH", f"/people/v2/people/{people['Ada']}")]
    (row,) = outbox_rows(engine)
    assert (row.status, row.attempts, row.run_id) == ("sent", 1, result.run_id)
    assert result.output_for_node("push_church_changes") == {"asked": 1, "claimed": 1, "sent": 1, "failed": 0,
                                                             "quarantined": 0, "needs_action": 0}
    # PCO's copy of our own PATCH (as its webhook or the next extract brings it) loads as the
    # pipeline's write: no outbox row, nothing to push back.
    sync_webhook_resources(client, pipeline_engine)
    assert len(outbox_rows(engine)) == 1


def test_an_edit_the_push_will_not_send_ends_quarantined_with_the_push_s_reason(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    people = synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron")])
    edit(engine, "UPDATE people SET nickname = 'Ad' || chr(7) || 'die' WHERE pco_id = :p", p=people["Ada"])

    assert run_request(sensor_tick(database_url, instance, cursor=None), resources, instance).success

    (row,) = outbox_rows(engine)
    assert row.status == "quarantined" and "control character" in row.status_reason
    assert writes(sandbox) == []


def test_a_person_added_with_plain_sql_is_created_in_pco_and_storing_its_id_echoes_nothing(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron")])
    edit(engine, "INSERT INTO people (first_name, last_name) VALUES ('Cy', 'Young')")
    tick = sensor_tick(database_url, instance, cursor=None)

    assert run_request(tick, resources, instance).success

    with engine.connect() as conn:
        pco_id = conn.execute(sa.text("SELECT pco_id FROM people WHERE first_name = 'Cy'")).scalar_one()
    assert pco_person(sandbox, pco_id)["last_name"] == "Young"
    # The push stored the new PCO id on the church row: the pipeline's write, not an edit.
    assert [(r.operation, r.status) for r in outbox_rows(engine)] == [("insert", "sent")]
    assert sensor_tick(database_url, instance, cursor=tick.cursor).run_requests == []


def test_a_push_that_cannot_reach_pco_leaves_its_rows_failed_and_due_again_after_a_backoff(
        engine, pipeline_engine, client, sandbox, sandbox_url, database_url, instance):
    people = synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron")])
    edit(engine, "UPDATE people SET nickname = 'Addie' WHERE pco_id = :p", p=people["Ada"])
    tick = sensor_tick(database_url, instance, cursor=None)
    refused = {"pco": PCOResource(base_url=sandbox_url, app_id=DEMO_APP_ID, secret="not-the-secret", max_retries=1),
               "church_db": PostgresResource(database_url=database_url)}

    result = run_request(tick, refused, instance)

    assert not result.success
    (row,) = outbox_rows(engine)
    assert (row.status, row.attempts) == ("failed", 1) and row.next_attempt_at is not None
    assert "credentials" in row.status_reason.lower() or "401" in row.status_reason
    assert pco_person(sandbox, people["Ada"]).get("nickname") in (None, "")
    assert sensor_tick(database_url, instance, cursor=tick.cursor).run_requests == []   # not before its backoff


def test_rows_held_by_a_run_that_died_are_handed_out_again_once_its_lease_ends(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    people = synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron")])
    edit(engine, "UPDATE people SET nickname = 'Addie' WHERE pco_id = :p", p=people["Ada"])
    tick = sensor_tick(database_url, instance, cursor=None)
    (request,) = tick.run_requests or []
    # The run claims its rows, then its process dies before pushing anything.
    claimed, _ = outbox.claim(pipeline_engine, request.run_config["ops"]["push_church_changes"]["config"]["outbox_ids"],
                              run_id="the-run-that-died")
    assert len(claimed) == 1
    assert sensor_tick(database_url, instance, cursor=tick.cursor).run_requests == []     # still held
    assert run_request(tick, resources, instance).output_for_node("push_church_changes")["claimed"] == 0

    edit(engine, "UPDATE church_outbox SET next_attempt_at = now() - interval '1 second'")   # the lease ends
    retry = sensor_tick(database_url, instance, cursor=tick.cursor)
    (again,) = retry.run_requests or []
    assert (again.run_key or "").startswith("church-changes-retry:")
    assert run_request(retry, resources, instance).success

    (row,) = outbox_rows(engine)
    assert (row.status, row.attempts) == ("sent", 2)
    assert pco_person(sandbox, people["Ada"])["nickname"] == "Addie"


def test_a_burst_of_1000_edits_goes_in_bounded_batches_none_lost_none_sent_twice(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance, monkeypatch):
    names = [(f"Person{n}", "Burst") for n in range(10)]
    people = synced_church(pipeline_engine, client, sandbox, names)
    with engine.connect() as conn:        # 100 committed edits of each of 10 people: 1,000 outbox rows
        for edit_number in range(100):
            conn.execute(sa.text("UPDATE people SET nickname = :nick WHERE last_name = 'Burst'"),
                         {"nick": f"v{edit_number}"})
            conn.commit()
    assert len(outbox_rows(engine)) == 1000
    monkeypatch.setenv(BATCH_ENV, "400")

    cursor, batches = None, []
    while (tick := sensor_tick(database_url, instance, cursor)).run_requests:
        cursor = tick.cursor
        (request,) = tick.run_requests
        batches.append(request.run_config["ops"]["push_church_changes"]["config"]["outbox_ids"])
        assert run_request(request, resources, instance).success

    assert [len(batch) for batch in batches] == [400, 400, 200]
    rows = outbox_rows(engine)
    assert sorted(i for batch in batches for i in batch) == [r.id for r in rows]
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
    assert len({r.run_id for r in rows}) == 3
    # Each person's latest value went once: the first run sent it, the others found nothing new.
    assert len(writes(sandbox)) == 10
    assert {pco_person(sandbox, people[first])["nickname"] for first, _ in names} == {"v99"}


def test_the_sweep_hands_out_rows_left_waiting_and_leaves_fresh_ones_to_the_sensor(
        engine, pipeline_engine, client, sandbox, database_url):
    synced_church(pipeline_engine, client, sandbox, [("Bob", "Adams")])
    edit(engine, "INSERT INTO people (first_name, last_name) VALUES ('Ada', 'Byron')")
    context = dg.build_schedule_context(resources={"church_db": PostgresResource(database_url=database_url)})
    assert isinstance(push_church_changes_sweep(context), dg.SkipReason)

    edit(engine, "UPDATE church_outbox SET changed_at = now() - interval '5 minutes'")   # the sensor was stopped
    request = push_church_changes_sweep(context)

    assert isinstance(request, dg.RunRequest) and (request.run_key or "").startswith("church-changes-sweep:")
    (row,) = outbox_rows(engine)
    assert request.run_config["ops"]["push_church_changes"]["config"]["outbox_ids"] == [row.id]


def test_before_the_first_people_load_the_sensor_and_the_sweep_skip_with_the_reason_and_launch_nothing(
        engine, pipeline_engine, client, sandbox, database_url, resources, instance):
    # A fresh install: church data entered before the first sync.
    edit(engine, "INSERT INTO people (first_name, last_name) VALUES ('Ada', 'Byron')")
    edit(engine, "UPDATE church_outbox SET changed_at = now() - interval '5 minutes'")
    schedule_context = dg.build_schedule_context(resources={"church_db": PostgresResource(database_url=database_url)})

    tick = sensor_tick(database_url, instance, cursor=None)
    swept = push_church_changes_sweep(schedule_context)

    assert tick.run_requests == [] and tick.cursor is None
    assert tick.skip_reason is not None and "never been read completely" in (tick.skip_reason.skip_message or "")
    assert isinstance(swept, dg.SkipReason) and "never been read completely" in (swept.skip_message or "")
    assert [row.status for row in outbox_rows(engine)] == ["pending"]

    synced_church(pipeline_engine, client, sandbox, [("Bob", "Adams")])   # the first sync
    tick = sensor_tick(database_url, instance, cursor=None)
    assert run_request(tick, resources, instance).success
    assert [row.status for row in outbox_rows(engine)] == ["sent"]
    assert {p.attributes["first_name"] for p in sandbox.store.all("people/people")} == {"Ada", "Bob"}
