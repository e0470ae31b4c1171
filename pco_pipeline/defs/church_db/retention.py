"""`purge_delivered`: deletes the finished `church_outbox` and `webhook_inbox` rows older than the
retention period (the rule: `pco_pipeline.sync.retention`), nightly through the
`purge_delivered_nightly` schedule, or by hand (`pco-pipeline purge [--dry-run]`, the Launchpad).

Default status RUNNING: without it both tables grow with every church edit and every webhook
delivery, forever. It calls nothing in PCO, so it takes no pool and runs beside any other run.
"""

import os
from datetime import timedelta

import dagster as dg

from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.webhooks.sensor import whole_number_setting
from pco_pipeline.sync import retention

# After the nightly full sync (03:00 by default), in the same time zone.
CRON = "30 4 * * *"


def retention_days() -> int:
    """The retention period in days (`PCO_DELIVERED_RETENTION_DAYS`); ValueError naming the setting
    when it is not a whole number from `retention.MIN_DAYS` to `retention.MAX_DAYS`."""
    return whole_number_setting(retention.SETTING, retention.DEFAULT_DAYS, retention.MIN_DAYS, retention.MAX_DAYS)


class PurgeConfig(dg.Config):
    dry_run: bool = False
    """Count the rows a purge would delete; delete nothing."""


@dg.op(description="Deletes the church_outbox rows sent, and the webhook_inbox rows applied or ignored, more than "
                   "PCO_DELIVERED_RETENTION_DAYS (30) ago, in batches; open, quarantined and needs-action rows stay. "
                   "dry_run: count only.")
def purge_delivered_rows(context: dg.OpExecutionContext, config: PurgeConfig, church_db: PostgresResource) -> dict:
    try:
        days = retention_days()
    except ValueError as exc:   # the step's failure says what to fix, not where it was found
        raise dg.Failure(description=str(exc)) from None
    done = retention.purge(church_db.get_engine(), older_than=timedelta(days=days), dry_run=config.dry_run)
    verb = "would delete" if done.dry_run else "deleted"
    context.log.info(f"finished before {done.finished_before:%Y-%m-%d %H:%M:%S %Z} ({days} days): {verb} "
                     + ", ".join(f"{table} {n}" for table, n in done.rows.items()))
    suffix = "would_delete" if done.dry_run else "deleted"
    context.add_output_metadata({
        "dry_run": dg.MetadataValue.bool(done.dry_run),
        "retention_days": dg.MetadataValue.int(days),
        "finished_before": dg.MetadataValue.timestamp(done.finished_before),
        **{f"{table}_{suffix}": dg.MetadataValue.int(n) for table, n in done.rows.items()},
        "batches": dg.MetadataValue.int(sum(done.batches.values())),
    })
    return {"dry_run": done.dry_run, "retention_days": days, "finished_before": done.finished_before.isoformat(),
            "rows": done.rows}


@dg.job(description="Deletes the finished church_outbox and webhook_inbox rows older than the retention period "
                    "(PCO_DELIVERED_RETENTION_DAYS, default 30); open rows and rows staff must act on stay. Calls "
                    "nothing in PCO.")
def purge_delivered():
    purge_delivered_rows()


def purge_run_config(*, dry_run: bool) -> dict:
    """Run config of `purge_delivered` (a dry run counts only)."""
    return {"ops": {purge_delivered_rows.name: {"config": {"dry_run": dry_run}}}}


purge_delivered_nightly = dg.ScheduleDefinition(
    name="purge_delivered_nightly",
    job=purge_delivered,
    cron_schedule=CRON,
    execution_timezone=os.environ.get("PCO_SYNC_TIMEZONE", "UTC"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every night at 04:30: deletes the church_outbox and webhook_inbox rows finished more than "
                "PCO_DELIVERED_RETENTION_DAYS (30) days ago.",
)
