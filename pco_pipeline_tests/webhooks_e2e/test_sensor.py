"""apply_webhooks_sensor: bounded batches, its own cursor, a run key per batch, retries when due."""

from collections.abc import Sequence

import dagster as dg
import pytest
import sqlalchemy as sa

from pco_pipeline.definitions import defs
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.pco.resources import PCOResource
from pco_pipeline.defs.webhooks.apply import apply_webhooks
from pco_pipeline.defs.webhooks.sensor import (
    BATCH_ENV,
    DAGSTER_SENSOR_LOOP_SECONDS,
    INTERVAL_ENV,
    apply_webhooks_sensor,
    minimum_interval,
    sensor_interval_seconds,
)


def store_rows(engine, count: int, first: int = 1) -> list[int]:
    """Inbox rows as the receiver stores them (the sensor only looks at ids, statuses and times)."""
    with engine.begin() as conn:
        return list(conn.execute(sa.text(
            "INSERT INTO webhook_inbox (event_name, delivery_id, raw_body)"
            " SELECT 'people.v2.events.person.updated', 'delivery-' || n, '{}'::bytea"
            " FROM generate_series(:first, :first + :n - 1) AS n RETURNING id"), {"n": count, "first": first}).scalars())


def tick(database_url: str, cursor: str | None = None, instance: dg.DagsterInstance | None = None
         ) -> dg.SensorResult:
    context = dg.build_sensor_context(cursor=cursor, instance=instance or dg.DagsterInstance.ephemeral(),
                                      resources={"church_db": PostgresResource(database_url=database_url)})
    result = apply_webhooks_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def requests_of(result: dg.SensorResult) -> Sequence[dg.RunRequest]:
    """The runs a tick asks for (it asks for none with a skip reason instead)."""
    assert result.run_requests is not None, result.skip_reason
    return result.run_requests


def ids_of(request: dg.RunRequest) -> list[int]:
    return request.run_config["ops"]["apply_webhook_events"]["config"]["inbox_ids"]


def test_sensor_hands_out_bounded_batches_and_moves_its_cursor(database_url, engine, monkeypatch):
    monkeypatch.setenv(BATCH_ENV, "3")
    ids = store_rows(engine, 5)
    first = tick(database_url)
    (request,) = requests_of(first)
    assert (request.run_key, ids_of(request), first.cursor) == (f"webhooks:{ids[0]}-{ids[2]}", ids[:3], str(ids[2]))
    assert request.tags["pco/direction"] == "webhook"
    second = tick(database_url, first.cursor)
    (request,) = requests_of(second)
    assert (request.run_key, ids_of(request), second.cursor) == (f"webhooks:{ids[3]}-{ids[4]}", ids[3:], str(ids[4]))
    idle = tick(database_url, second.cursor)
    assert idle.run_requests == [] and idle.skip_reason is not None
    assert "nothing waiting" in (idle.skip_reason.skip_message or "")


def test_rows_due_again_are_handed_out_once_per_retry(database_url, engine):
    ids = store_rows(engine, 3)
    cursor = tick(database_url).cursor
    with engine.begin() as conn:  # row 2's first try failed, its backoff is over
        conn.execute(sa.text("UPDATE webhook_inbox SET status = CASE WHEN id = :failed THEN 'failed' ELSE 'applied' END,"
                             " tries = 1, next_try_at = CASE WHEN id = :failed THEN now() - interval '1 s' END"),
                     {"failed": ids[1]})
    (retry,) = requests_of(tick(database_url, cursor))
    assert ids_of(retry) == [ids[1]] and (retry.run_key or "").startswith(f"webhooks-retry:{ids[1]}-{ids[1]}:1@")
    again = tick(database_url, cursor)
    assert [r.run_key for r in requests_of(again)] == [retry.run_key]  # same due rows, same key: launched once
    assert again.cursor == cursor
    with engine.begin() as conn:  # its second try failed too: a new retry, a new key
        conn.execute(sa.text("UPDATE webhook_inbox SET tries = 2, next_try_at = now() - interval '0.5 s' WHERE id = :i"),
                     {"i": ids[1]})
    (later,) = requests_of(tick(database_url, cursor))
    assert later.run_key != retry.run_key and ids_of(later) == [ids[1]]
    with engine.begin() as conn:  # a claimed row (lease not over) is not handed out
        conn.execute(sa.text("UPDATE webhook_inbox SET next_try_at = now() + interval '10 min' WHERE id = :i"),
                     {"i": ids[1]})
    assert tick(database_url, cursor).run_requests == []


def test_rows_of_a_run_that_never_started_are_handed_out_again(database_url, engine):
    ids = store_rows(engine, 2)
    cursor = tick(database_url).cursor  # handed out, but the run was lost before it claimed them
    assert tick(database_url, cursor).run_requests == []
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE webhook_inbox SET received_at = now() - interval '1 hour'"))
    (retry,) = requests_of(tick(database_url, cursor))
    assert ids_of(retry) == ids


def test_no_run_is_launched_while_one_is_still_queued(database_url, engine):
    """Another run would only queue behind it: the rows wait and then go in one batch."""
    with dg.instance_for_test() as instance:
        first = store_rows(engine, 2)
        (request,) = requests_of(tick(database_url, instance=instance))
        assert ids_of(request) == first
        # Created by a tick, not yet through the queue (a QUEUED run needs a code location origin).
        queued = instance.create_run_for_job(apply_webhooks, status=dg.DagsterRunStatus.NOT_STARTED)
        cursor = str(first[-1])
        later = store_rows(engine, 3, first=3)
        waiting = tick(database_url, cursor, instance)
        assert waiting.run_requests == [] and waiting.cursor is None
        assert waiting.skip_reason is not None and queued.run_id in (waiting.skip_reason.skip_message or "")
        instance.report_run_canceled(queued)   # it left the queue (launched, or here: canceled)
        (batch,) = requests_of(tick(database_url, cursor, instance))
        assert ids_of(batch) == later


def test_sensor_definition_interval_and_default_status(monkeypatch):
    sensor = defs().resolve_sensor_def("apply_webhooks_sensor")
    assert sensor.job_name == "apply_webhooks"
    assert sensor.minimum_interval_seconds == minimum_interval(15) == 14   # ticks every 15 s
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    monkeypatch.setenv(INTERVAL_ENV, "5")
    assert sensor_interval_seconds() == 5
    monkeypatch.setenv(INTERVAL_ENV, "soon")
    with pytest.raises(ValueError, match=INTERVAL_ENV):
        sensor_interval_seconds()


def test_the_interval_is_the_spacing_of_ticks_on_dagsters_sensor_loop():
    """The daemon ticks only when it wakes, and skips a sensor whose last tick began less than
    minimum_interval_seconds ago; a tick begins just after its wake-up. So the minimum interval
    is one second under the spacing: 5 s ticks at every wake-up (5 s would tick every other one)."""
    from dagster._daemon.sensor import MIN_INTERVAL_LOOP_TIME

    assert DAGSTER_SENSOR_LOOP_SECONDS == MIN_INTERVAL_LOOP_TIME
    ticks = {seconds: minimum_interval(seconds) for seconds in (1, 4, 5, 6, 10, 15, 3600)}
    assert ticks == {1: 4, 4: 4, 5: 4, 6: 9, 10: 9, 15: 14, 3600: 3599}
    # A tick that began up to a second after its wake-up is due at the wake-up the spacing names.
    for seconds, minimum in ticks.items():
        spacing = minimum + 1
        for started_late in (0.0, 0.4, 0.99):
            elapsed_at_wakeups = [k * DAGSTER_SENSOR_LOOP_SECONDS - started_late for k in range(1, 800)]
            first_due = next(k for k, elapsed in enumerate(elapsed_at_wakeups, 1) if elapsed >= minimum)
            assert first_due * DAGSTER_SENSOR_LOOP_SECONDS == spacing >= seconds


def run_job(database_url: str, config: dict):
    with dg.instance_for_test() as instance:
        return apply_webhooks.execute_in_process(
            run_config={"ops": {"apply_webhook_events": {"config": config}}}, instance=instance, raise_on_error=False,
            # No PCO credentials: nothing here needs a re-read, so the client is never created.
            resources={"church_db": PostgresResource(database_url=database_url), "pco": PCOResource()})


def test_the_job_takes_an_id_range_and_says_what_is_missing_from_its_config(database_url, engine):
    ids = store_rows(engine, 3)
    result = run_job(database_url, {"first_id": ids[0], "last_id": ids[1]})
    assert result.success
    assert result.output_for_node("apply_webhook_events")["claimed"] == 2
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.text("SELECT id, status FROM webhook_inbox")).all())
    # These stored bodies hold no delivery at all: quarantined at once, never retried.
    assert statuses == {ids[0]: "quarantined", ids[1]: "quarantined", ids[2]: "pending"}

    refused = run_job(database_url, {})
    assert not refused.success
    failure = next(e for e in refused.all_events if e.is_step_failure).step_failure_data.error
    assert failure is not None
    assert "name the webhook_inbox rows to apply: inbox_ids, or first_id (and last_id)" in failure.message
