"""Church edits reach PCO without anyone launching a push: `push_church_changes_sensor` turns the
rows the change-capture triggers write into `church_outbox` (sql/0017, rules in
`pco_pipeline.sync.outbox`) into `push_changes` runs, and the `push_church_changes_sweep`
schedule hands out whatever the sensor missed.

Each sensor tick runs two bounded queries (`PCO_OUTBOX_BATCH_SIZE` rows each, default 500):
- new rows after the sensor's cursor (the last outbox id it handed out) → one run, run key
  `church-changes:<first>-<last>`; the cursor moves to the last id;
- rows at or before the cursor due again (a failed try whose backoff ended, a run that died
  holding them, a run that never started) → one run keyed by the ids and when they became due.
Whether a row is done lives in the outbox, not in the sensor (as for `apply_webhooks_sensor`).
While a push_changes run is still waiting in the run queue, a tick launches nothing (as for
`apply_webhooks_sensor`: one push runs at a time, so another run would only queue behind it);
the rows go in one batch at the first tick after it leaves the queue.

A `push_changes` run claims its rows, reads PCO's current record of each linked person, household
and group membership they name and loads it (`outbox.refresh_pco_side`: a PCO edit not loaded yet
is taken, or recorded as a conflict by the three-way rule, before anything is sent; never
overwritten unseen), runs the push of each entity they belong to (people, then families, then
group memberships: the pushes `full_push` runs, through the same push engine, one
pco_sync_log row), and marks each row sent, failed (due again after a backoff) or quarantined.
The push sends each record as it is then, so a run sending a batch also sends any other church
change the push finds; the rows of other batches are marked by their own runs.

Until PCO's people have been read completely and loaded (a fresh install before its first sync),
the sensor and the sweep skip with that reason in the tick, launching nothing: a run would only
fail. The rows wait, and go once the first people load has run.

Interval: `PCO_OUTBOX_SENSOR_INTERVAL_SECONDS` (default 15; rounded up to Dagster's 5 s sensor
loop, see `webhooks.sensor.minimum_interval`). Default status RUNNING, like the
webhook sensor: a church edit is meant to reach PCO in seconds, and a stopped sensor would let
the outbox fill while staff believe their edits are sent. An idle tick is one indexed query.
"""

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.church_db.lineage import load_asset_events, pco_asset_of_landing, push_asset_events
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.church_db.runlog import step_log
from pco_pipeline.defs.outbound.jobs import OUTBOUND_TAGS
from pco_pipeline.defs.pco.resources import PCO_API_POOL, PCOResource
from pco_pipeline.defs.webhooks.sensor import minimum_interval, queued_run, whole_number_setting
from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.errors import PCOError
from pco_pipeline.sync import outbox
from pco_pipeline.sync.people_push import DEFAULT_WORKERS
from pco_pipeline.sync.push import PushAborted
from pco_pipeline.sync.push_engine import run_push
from pco_pipeline.sync.registry import Push
from pco_pipeline.sync.safety_brake import SafetyBrakeEngaged
from pco_pipeline.sync.webhook_inbox import DueRetries

INTERVAL_ENV = "PCO_OUTBOX_SENSOR_INTERVAL_SECONDS"
BATCH_ENV = "PCO_OUTBOX_BATCH_SIZE"
DEFAULT_INTERVAL_SECONDS = 15
DEFAULT_BATCH_SIZE = 500
# The sweep takes rows waiting unclaimed this long (younger ones are the sensor's).
SWEEP_AFTER = outbox.RETRY.first_backoff * 2
CHANGE_TAGS = {**OUTBOUND_TAGS, "pco/trigger": "church_outbox"}


def sensor_interval_seconds() -> int:
    return whole_number_setting(INTERVAL_ENV, DEFAULT_INTERVAL_SECONDS, 1, 3600)


def batch_size() -> int:
    return whole_number_setting(BATCH_ENV, DEFAULT_BATCH_SIZE, 1, 5000)


class PushChangesConfig(dg.Config):
    outbox_ids: list[int] = []
    """church_outbox ids whose records to push (the sensor's batch)."""


def _push(context: dg.OpExecutionContext, engine: sa.Engine, client: PCOClient, push: Push) -> None:
    """Run one push to its end (its own pco_sync_log step); PushAborted, SafetyBrakeEngaged or a PCOError
    when it stops."""
    with step_log(context, engine, "outbound") as step:
        report = run_push(push.kind, engine, client, run_id=context.run.run_id,
                          workers=DEFAULT_WORKERS if push.parallel else 1)
        step.finish(**report.counts.sync_log())
    context.log.info(report.summary())
    for line in report.failures:
        context.log.warning(line)
    for event in push_asset_events(report):
        context.log_event(event)


def _refresh(context: dg.OpExecutionContext, engine: sa.Engine, client: PCOClient,
             rows: list[outbox.OutboxRow]) -> None:
    """Read and load PCO's side of the people `rows` name (see `outbox.refresh_pco_side`); its
    writes are shown in lineage as the webhook path shows its own."""
    refresh = outbox.refresh_pco_side(engine, client, rows)
    if not refresh.read and not refresh.gone:
        return
    read = {resource: len(ids) for resource, ids in refresh.read.items()}
    writes = sum(counts.writes for counts in refresh.loads.values())
    context.log.info(f"read from PCO before pushing: {read} (gone from PCO: {refresh.gone or 'none'}); "
                     f"the loads wrote {writes} church row(s)")
    batch = dg.MetadataValue.text(f"outbox ids {rows[0].id}–{rows[-1].id} ({len(rows)})")
    for resource, ids in sorted(refresh.read.items()):
        landed = refresh.landed.counts.get(resource)
        if landed is None or landed.inserted + landed.changed == 0:
            continue
        context.log_event(dg.AssetMaterialization(
            asset_key=pco_asset_of_landing(resource),
            description="PCO's current records a push_changes batch names, read before pushing",
            metadata={"records_read": dg.MetadataValue.int(len(ids)),
                      "landing_rows_written": dg.MetadataValue.int(landed.inserted + landed.changed),
                      "outbox_batch": batch}))
    for event in load_asset_events(refresh.loads, "written by the load run before a push_changes batch",
                                   {"outbox_batch": batch}):
        context.log_event(event)


@dg.op(pool=PCO_API_POOL, tags=CHANGE_TAGS,
       description="Claims the church_outbox rows of the batch, pushes the records they name (the push of each "
                   "entity, as full_push would) and marks each row sent, failed (retried after a backoff) or "
                   "quarantined.")
def push_church_changes(context: dg.OpExecutionContext, config: PushChangesConfig, pco: PCOResource,
                        church_db: PostgresResource) -> dict:
    engine = church_db.get_engine()
    rows, gave_up = outbox.claim(engine, sorted(set(config.outbox_ids)), run_id=context.run.run_id)
    outcomes = outbox.Outcomes()
    outcomes.add("quarantined", gave_up)
    stopped: str | None = None
    client = pco.get_client() if rows else None
    for pushes, rows_of in outbox.pushes_for(rows):
        if stopped is not None:
            outbox.record_failed(engine, rows_of, f"not tried: {stopped}", outcomes)
            continue
        try:
            assert client is not None
            _refresh(context, engine, client, rows_of)
            for push in pushes:
                _push(context, engine, client, push)
        except (PushAborted, SafetyBrakeEngaged, PCOError) as exc:
            # PushAborted / PCOError: PCO cannot be used now (a PCO error can also come from the
            # refresh's or the plan's reads); the brake: a change too large to send unconfirmed.
            stopped = str(exc)
            outbox.record_failed(engine, rows_of, stopped, outcomes)
            continue
        outbox.record_pushed(engine, rows_of, outcomes)
    counts = {"asked": len(config.outbox_ids), "claimed": len(rows), **outcomes.counts()}
    context.log.info(", ".join(f"{name} {n}" for name, n in counts.items()))
    context.add_output_metadata({name: dg.MetadataValue.int(n) for name, n in counts.items()})
    if stopped is not None:
        raise dg.Failure(description=f"the push stopped; its outbox rows are retried after a backoff: {stopped}")
    return counts


@dg.job(tags=CHANGE_TAGS, executor_def=dg.in_process_executor,
        description="Pushes the church records named by church_outbox rows (the sensor's batch) to PCO and marks "
                    "the rows. Launched by push_church_changes_sensor and the sweep; safe to re-execute.")
def push_changes():
    push_church_changes()


def _run_request(run_key: str, ids: list[int]) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=run_key,
        run_config=dg.RunConfig(ops={"push_church_changes": PushChangesConfig(outbox_ids=ids)}),
        tags={**CHANGE_TAGS, "pco/outbox_ids": f"{ids[0]}-{ids[-1]} ({len(ids)})"})


def _retry_request(prefix: str, retries: DueRetries) -> dg.RunRequest:
    due = retries.due_marker.isoformat() if retries.due_marker else "orphaned"
    return _run_request(f"{prefix}:{retries.ids[0]}-{retries.ids[-1]}:{len(retries.ids)}@{due}", retries.ids)


@dg.sensor(job=push_changes, minimum_interval_seconds=minimum_interval(sensor_interval_seconds()),
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Launches push_changes for new church_outbox rows (the church's edits, bounded batches) and "
                       "for rows whose retry is due. Interval: PCO_OUTBOX_SENSOR_INTERVAL_SECONDS; batch: "
                       "PCO_OUTBOX_BATCH_SIZE.")
def push_church_changes_sensor(context: dg.SensorEvaluationContext, church_db: PostgresResource) -> dg.SensorResult:
    cursor = int(context.cursor or 0)
    if (waiting := queued_run(context, push_changes.name)) is not None:
        return dg.SensorResult(skip_reason=f"run {waiting} is still queued: the church edits waiting go in one batch "
                                           f"once it leaves the queue (cursor: id {cursor})")
    limit = batch_size()
    with church_db.get_engine().connect() as conn:
        new = outbox.new_ids(conn, after_id=cursor, limit=limit)
        retries = outbox.due_ids(conn, up_to_id=cursor, limit=limit)
        # Asked only when there is work: an idle tick stays one indexed query.
        waiting_for = outbox.not_ready(conn) if new or retries.ids else None
    if waiting_for is not None:
        # The cursor stays: the rows are handed out once the first people load has run.
        return dg.SensorResult(skip_reason=f"church edits wait for the first complete people load: {waiting_for}")
    requests = []
    if new:
        requests.append(_run_request(f"church-changes:{new[0]}-{new[-1]}", new))
    if retries.ids:
        requests.append(_retry_request("church-changes-retry", retries))
    if not requests:
        return dg.SensorResult(skip_reason=f"no church edit waiting in church_outbox (cursor: id {cursor})")
    return dg.SensorResult(run_requests=requests, cursor=str(new[-1] if new else cursor))


@dg.schedule(job=push_changes, cron_schedule="*/15 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Every 15 minutes: a push_changes run for church_outbox rows left waiting (the sensor "
                         "stopped, or a row committed behind its cursor).")
def push_church_changes_sweep(context: dg.ScheduleEvaluationContext, church_db: PostgresResource):
    with church_db.get_engine().connect() as conn:
        waiting = outbox.due_ids(conn, limit=batch_size(), unclaimed_for=SWEEP_AFTER)
        waiting_for = outbox.not_ready(conn) if waiting.ids else None
    if not waiting.ids:
        return dg.SkipReason("no church edit left waiting in church_outbox")
    if waiting_for is not None:
        return dg.SkipReason(f"church edits wait for the first complete people load: {waiting_for}")
    return _retry_request("church-changes-sweep", waiting)
