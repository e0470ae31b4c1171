"""`apply_webhooks`: apply the webhook deliveries stored in `webhook_inbox` to the church database.

The run is told which rows (ids or an id range, usually by `apply_webhooks_sensor`); the rules
are `pco_pipeline.sync.webhook_apply`'s. Rows end applied, ignored or failed in the inbox
itself, so re-executing a run is safe: rows already final are skipped, rows another run holds
are left to it. The step may re-read records from PCO: it takes the `pco_api` slot just before
its first re-read (`defs/pco/pool_slot.py`), so a run that needs no PCO request never waits for
a push to free it. Its own pool, `webhook_apply` (one slot, the instance's default limit),
keeps runs applying deliveries one at a time, as when they shared `pco_api`. What it wrote
shows in lineage as materializations of the `pco/*` and `church/*` assets
(`defs/church_db/lineage.py`).
"""

from typing import Optional

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.church_db.lineage import webhook_asset_events
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.church_db.runlog import step_log
from pco_pipeline.defs.pco.pool_slot import slot_on_first_use
from pco_pipeline.defs.pco.resources import PCO_API_POOL, PCOResource
from pco_pipeline.sync.markdown import markdown_cell
from pco_pipeline.sync.webhook_apply import ApplyReport, apply_inbox_rows
from pco_pipeline.sync.webhook_inbox import open_ids_in_range

WEBHOOK_TAGS = {"pco/direction": "webhook"}
WEBHOOK_APPLY_POOL = "webhook_apply"
MAX_RANGE_ROWS = 5000


class ApplyWebhooksConfig(dg.Config):
    inbox_ids: list[int] = []
    """webhook_inbox ids to apply (the sensor's batch)."""
    first_id: Optional[int] = None
    """Or a range: every open row from this id …"""
    last_id: Optional[int] = None
    """… to this one (inclusive; default: the first id + 4999)."""


def inbox_ids_of(config: ApplyWebhooksConfig, engine: sa.Engine) -> list[int]:
    """The rows a run was asked to apply; dg.Failure when the config names none."""
    if config.inbox_ids and config.first_id is not None:
        raise dg.Failure(description="give either inbox_ids or first_id/last_id, not both")
    if config.inbox_ids:
        return sorted(set(config.inbox_ids))
    if config.first_id is None:
        raise dg.Failure(description="name the webhook_inbox rows to apply: inbox_ids, or first_id (and last_id)")
    last_id = config.last_id if config.last_id is not None else config.first_id + MAX_RANGE_ROWS - 1
    if last_id < config.first_id:
        raise dg.Failure(description=f"last_id {last_id} is before first_id {config.first_id}")
    with engine.connect() as conn:
        return open_ids_in_range(conn, config.first_id, last_id)[:MAX_RANGE_ROWS]


def _outcomes_markdown(report: ApplyReport, limit: int = 20) -> str:
    lines = ["| inbox id | outcome | why |", "|---:|---|---|"]
    for outcome in report.outcomes[:limit]:
        lines.append(f"| {outcome.inbox_id} | {outcome.status} | {markdown_cell(outcome.reason)} |")
    if len(report.outcomes) > limit:
        lines.append(f"| … | {len(report.outcomes) - limit} more | |")
    return "\n".join(lines)


@dg.op(pool=WEBHOOK_APPLY_POOL, tags=WEBHOOK_TAGS,
       description="Applies webhook deliveries in PCO's event order with the inbound load rules; an event older "
                   "than what the database holds is ignored, thin or stale payloads are re-read from PCO (taking "
                   "the pco_api pool's slot at the first re-read).")
def apply_webhook_events(context: dg.OpExecutionContext, config: ApplyWebhooksConfig, pco: PCOResource,
                         church_db: PostgresResource) -> dict:
    engine = church_db.get_engine()
    ids = inbox_ids_of(config, engine)
    with step_log(context, engine, "webhook") as step, slot_on_first_use(context, PCO_API_POOL) as take_slot:
        def client():
            take_slot()   # every PCO request is made holding the credential's one slot
            return pco.get_client()

        report = apply_inbox_rows(engine, ids, pco=client)
        created = sum(c.created for c in report.loads.values())
        changed = sum(c.updated + c.deactivated for c in report.loads.values())
        step.finish(created=created, updated=changed, skipped=report.ignored,
                    failed=report.failed + report.quarantined, requests_used=report.requests.requests)
    counts = {"claimed": report.claimed, "applied": report.applied, "ignored": report.ignored,
              "failed": report.failed, "quarantined": report.quarantined}
    context.log.info(f"{len(ids)} inbox row(s) asked for: " + ", ".join(f"{k} {v}" for k, v in counts.items())
                     + f"; {report.rereads} re-read(s) from PCO, {report.church_writes} church row(s) written")
    for entity, load in report.loads.items():
        context.log.info(f"{entity}: {load.as_dict()}")
    context.add_output_metadata({
        **{name: dg.MetadataValue.int(value) for name, value in counts.items()},
        "rereads": dg.MetadataValue.int(report.rereads),
        "requests_used": dg.MetadataValue.int(report.requests.requests),
        "church_rows_written": dg.MetadataValue.int(report.church_writes),
        "outcomes": dg.MetadataValue.md(_outcomes_markdown(report)),
    })
    # Lineage: the pco/* landing and church/* tables this run wrote, as asset events.
    applied = [outcome.inbox_id for outcome in report.outcomes if outcome.status == "applied"]
    for event in webhook_asset_events(engine, applied, report.loads, ids):
        context.log_event(event)
    return {**counts, "church_rows_written": report.church_writes}


# One step: in the run's own process. The default multiprocess executor would start a second
# Python process per run, seconds of each webhook's latency (bench_latency).
@dg.job(tags=WEBHOOK_TAGS, executor_def=dg.in_process_executor,
        description="Applies stored PCO webhook deliveries (webhook_inbox rows, by id or id range) to the church "
                    "database. Launched by apply_webhooks_sensor; safe to re-execute.")
def apply_webhooks():
    apply_webhook_events()
