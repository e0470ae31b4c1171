"""`apply_webhooks_sensor`: launches `apply_webhooks` for what is waiting in `webhook_inbox`.

Each tick runs two bounded queries (`PCO_WEBHOOK_BATCH_SIZE` rows each, default 200):
- new rows after the sensor's cursor (the last inbox id it handed out) → one run, run key
  `webhooks:<first>-<last>`; the cursor moves to the last id;
- rows at or before the cursor that are due again (a failed try whose backoff ended, a run that
  died holding them, a run that never started) → one run, keyed by the ids and when they became
  due, so the same due rows are launched once and a later retry of them is a new run.
Whether a row is done lives in the inbox itself, not in the sensor: a failed run is never
relaunched under its run key (Dagster launches a key once), the retry lane takes its rows.

While a run it launched is still waiting in the run queue, a tick launches nothing (the skip
reason names the run): another run would only queue behind it, and every run is a new process
(seconds; many more under load, where a run per tick made the queue grow without end). The rows
wait, and the first tick after that run leaves the queue hands them all out in one batch.

Interval: `PCO_WEBHOOK_SENSOR_INTERVAL_SECONDS` (default 15; see `minimum_interval` for how it
becomes Dagster's `minimum_interval_seconds`). Default status RUNNING: rows only
reach the inbox once someone runs the receiver and subscribes (`pco-pipeline webhooks
subscribe`), both deliberate steps, after which leaving deliveries unapplied is never wanted; a
stopped sensor would let the inbox fill silently while staff believe changes arrive in real
time. An idle tick is one indexed query.
"""

import os

import dagster as dg

from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.webhooks.apply import WEBHOOK_TAGS, ApplyWebhooksConfig, apply_webhooks
from pco_pipeline.sync.webhook_inbox import due_retry_ids, new_row_ids

INTERVAL_ENV = "PCO_WEBHOOK_SENSOR_INTERVAL_SECONDS"
BATCH_ENV = "PCO_WEBHOOK_BATCH_SIZE"
DEFAULT_INTERVAL_SECONDS = 15
DEFAULT_BATCH_SIZE = 200


def whole_number_setting(name: str, default: int, low: int, high: int) -> int:
    """The whole number in environment variable `name` (`default` when unset); ValueError outside low..high."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    return int(raw)


def sensor_interval_seconds() -> int:
    return whole_number_setting(INTERVAL_ENV, DEFAULT_INTERVAL_SECONDS, 1, 3600)


# Dagster's sensor daemon wakes every 5 s (dagster._daemon.sensor.MIN_INTERVAL_LOOP_TIME, not
# configurable; pco_pipeline_tests/test_dagster_fixes.py checks the pinned value).
DAGSTER_SENSOR_LOOP_SECONDS = 5


def minimum_interval(seconds: int) -> int:
    """Dagster's `minimum_interval_seconds` for a sensor meant to tick every `seconds`.

    The daemon only ticks when it wakes (every DAGSTER_SENSOR_LOOP_SECONDS), so the spacing is
    `seconds` rounded up to a whole number of wake-ups. It skips a sensor whose last tick began
    less than `minimum_interval_seconds` ago, and a tick begins a moment after the wake-up it
    ran in: asking for exactly 5 s would skip every other wake-up (ticks 10 s apart). One second
    less than the spacing makes the tick come at the intended wake-up and never earlier.
    """
    wakeups = -(-seconds // DAGSTER_SENSOR_LOOP_SECONDS)   # rounded up
    return max(1, wakeups) * DAGSTER_SENSOR_LOOP_SECONDS - 1


def batch_size() -> int:
    return whole_number_setting(BATCH_ENV, DEFAULT_BATCH_SIZE, 1, 5000)


def queued_run(context: dg.SensorEvaluationContext, job_name: str) -> str | None:
    """The id of a run of `job_name` still waiting in the run queue (not yet launched), if any."""
    records = context.instance.get_run_records(
        dg.RunsFilter(job_name=job_name, statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]),
        limit=1)
    return records[0].dagster_run.run_id if records else None


def _run_request(run_key: str, ids: list[int]) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        run_config=dg.RunConfig(ops={"apply_webhook_events": ApplyWebhooksConfig(inbox_ids=ids)}),
        tags={**WEBHOOK_TAGS, "pco/inbox_ids": f"{ids[0]}-{ids[-1]} ({len(ids)})"})


@dg.sensor(job=apply_webhooks, minimum_interval_seconds=minimum_interval(sensor_interval_seconds()),
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Launches apply_webhooks for new webhook_inbox rows (bounded batches) and for rows whose "
                       "retry is due. Interval: PCO_WEBHOOK_SENSOR_INTERVAL_SECONDS; batch: PCO_WEBHOOK_BATCH_SIZE.")
def apply_webhooks_sensor(context: dg.SensorEvaluationContext, church_db: PostgresResource) -> dg.SensorResult:
    cursor = int(context.cursor or 0)
    if (waiting := queued_run(context, apply_webhooks.name)) is not None:
        return dg.SensorResult(skip_reason=f"run {waiting} is still queued: the rows waiting go in one batch once it "
                                           f"leaves the queue (cursor: id {cursor})")
    limit = batch_size()
    with church_db.get_engine().connect() as conn:
        new = new_row_ids(conn, after_id=cursor, limit=limit)
        retries = due_retry_ids(conn, up_to_id=cursor, limit=limit)
    requests = []
    if new:
        requests.append(_run_request(f"webhooks:{new[0]}-{new[-1]}", new))
    if retries.ids:
        due = retries.due_marker.isoformat() if retries.due_marker else "orphaned"
        requests.append(_run_request(
            f"webhooks-retry:{retries.ids[0]}-{retries.ids[-1]}:{len(retries.ids)}@{due}", retries.ids))
    if not requests:
        return dg.SensorResult(skip_reason=f"nothing waiting in webhook_inbox (cursor: id {cursor})")
    return dg.SensorResult(run_requests=requests, cursor=str(new[-1] if new else cursor))
