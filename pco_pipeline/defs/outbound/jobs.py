"""Push jobs: what the church has and PCO lacks → PCO (rules in `pco_pipeline.sync.push`).

    push_people              people (+ emails, phones, family address)
    push_families            households (+ members added since)
    push_group_memberships   memberships in PCO groups (+ role changes)
    full_push                the three, in that order, in one run

Every op takes `confirm_large_change` (`pco-pipeline push … --confirm`): the safety brake
(`sync/safety_brake.py`) lets that run through. Every op takes `dry_run` (run config `ops: {people_to_pco: {config: {dry_run: true}}}`, see
`dry_run_config`, or `pco-pipeline push … --dry-run`): the plan is made and shown, nothing is sent. Each op's output
metadata holds the counts per action and the plan as a markdown table, field by field (a dry
run also `fields`: every linked field church and PCO hold differently, base → church → PCO →
planned action, and the conflicts a real run would record, `sync/field_plan.py`); every
run leaves one `pco_sync_log` row (direction outbound; a dry run's counts only its skips). The
PCO steps run in the `pco_api` pool. A dry run of full_push plans each step against the database
as it is: families and memberships of people the first step would create show as waiting.
What a push wrote shows in lineage as asset events (`defs/church_db/lineage.py`).
"""

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.church_db.lineage import push_asset_events
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.church_db.runlog import step_log
from pco_pipeline.defs.pco.resources import PCO_API_POOL, PCOResource
from pco_pipeline.sync.field_plan import FieldTable, field_plan
from pco_pipeline.sync.people_push import DEFAULT_WORKERS
from pco_pipeline.sync.push import PushAborted, PushReport
from pco_pipeline.sync.push_engine import run_push
from pco_pipeline.sync.registry import DEFAULT, Push, Registry
from pco_pipeline.sync.safety_brake import SafetyBrakeEngaged

OUTBOUND_TAGS = {"pco/direction": "outbound"}


class PushConfig(dg.Config):
    dry_run: bool = False
    """Plan only: show what would be sent, send nothing (no request at all)."""
    confirm_large_change: bool = False
    """Let this run through the safety brake (it changes more of the church than PCO_SAFETY_BRAKE_SHARE)."""


class ParallelPushConfig(PushConfig):
    workers: int = DEFAULT_WORKERS
    """Records pushed at once (they share the one rate budget; more hides PCO's latency)."""


def _metadata(report: PushReport, requests: int, fields: FieldTable | None) -> dict:
    plan = report.plan
    metadata = {
        "dry_run": dg.MetadataValue.bool(report.dry_run),
        "planned_writes": dg.MetadataValue.int(plan.total_writes),
        "planned": dg.MetadataValue.json(plan.counts()),
        "plan": dg.MetadataValue.md(plan.markdown()),
        "requests_used": dg.MetadataValue.int(requests),
        # How each entity's three-way comparison ran; a full one's drift check (0 expected).
        "comparison": dg.MetadataValue.json(report.comparisons),
    }
    if report.drifted_records:
        metadata["drifted_records"] = dg.MetadataValue.int(sum(report.drifted_records.values()))
    if fields is not None:
        metadata["fields"] = dg.MetadataValue.md(fields.markdown())
        metadata["field_actions"] = dg.MetadataValue.json(fields.counts())
        metadata["conflicts_to_record"] = dg.MetadataValue.int(sum(fields.conflicts.values()))
    if not report.dry_run:
        metadata.update({name: dg.MetadataValue.int(n) for name, n in report.counts.totals().items()})
        metadata["outcomes"] = dg.MetadataValue.md(report.counts.markdown())
        metadata["outcomes_by_resource"] = dg.MetadataValue.json(report.counts.by_resource())
        if report.failures:
            metadata["failures"] = dg.MetadataValue.md("\n".join(f"- {line}" for line in report.failures))
    return metadata


def _run_push(context: dg.OpExecutionContext, church_db: PostgresResource, pco: PCOResource, push: Push,
              config: PushConfig) -> None:
    engine: sa.Engine = church_db.get_engine()
    dry_run = config.dry_run
    client = None if dry_run else pco.get_client()
    before = client.counters.snapshot() if client is not None else None

    def requests() -> int:
        return (client.counters.snapshot() - before).requests if client is not None and before is not None else 0

    try:
        with step_log(context, engine, "outbound") as step:
            step.counts_on_error = lambda: {"requests_used": requests()}

            def progress(report: PushReport) -> None:
                step.progress(f"{report.push}: {report.counts.totals()}", **report.counts.sync_log(),
                              requests_used=requests())

            workers = config.workers if isinstance(config, ParallelPushConfig) else 1
            report = run_push(push.kind, engine, client, run_id=context.run.run_id, dry_run=dry_run,
                              workers=workers, progress=progress, confirm_large_change=config.confirm_large_change)
            # A dry run also shows every differing field: base → church → PCO → planned action.
            fields = field_plan(engine, push.kind.name, held=report.plan.held_fields) if dry_run else None
            if dry_run:
                step.finish(skipped=sum(report.plan.skips.values()))
            else:
                step.finish(**report.counts.sync_log(), requests_used=requests())
    except (PushAborted, SafetyBrakeEngaged) as exc:
        raise dg.Failure(description=str(exc)) from exc
    context.log.info(report.summary())
    for line in report.failures:
        context.log.warning(line)
    context.add_output_metadata(_metadata(report, requests(), fields))
    # Lineage: the church tables given PCO ids, and the pco/* assets whose PCO records changed.
    for event in push_asset_events(report):
        context.log_event(event)


def _push_op(push: Push, first: bool) -> dg.OpDefinition:
    """The step running `push`; every step but the first waits on the one before it in full_push."""
    ins = {} if first else {"after": dg.In(dg.Nothing)}
    if push.parallel:
        def parallel(context: dg.OpExecutionContext, config: ParallelPushConfig, church_db: PostgresResource,
                     pco: PCOResource) -> None:
            _run_push(context, church_db, pco, push, config)

        body = parallel
    else:
        def one_at_a_time(context: dg.OpExecutionContext, config: PushConfig, church_db: PostgresResource,
                          pco: PCOResource) -> None:
            _run_push(context, church_db, pco, push, config)

        body = one_at_a_time
    return dg.op(name=push.op, pool=PCO_API_POOL, ins=ins, description=push.op_description)(body)


def outbound_jobs(registry: Registry) -> list[dg.JobDefinition]:
    """One job per push, and full_push running them all in registry order."""
    ops = [_push_op(push, index == 0) for index, push in enumerate(registry.pushes)]

    def job(name: str, description: str, steps: list[dg.OpDefinition]) -> dg.JobDefinition:
        def chain() -> None:
            previous = None
            for step in steps:
                previous = step() if previous is None else step(after=previous)

        # One process per run: one shared rate budget, steps in order.
        return dg.job(name=name, description=description, tags=OUTBOUND_TAGS,
                      executor_def=dg.in_process_executor)(chain)

    return [*(job(push.job, push.job_description, [op]) for push, op in zip(registry.pushes, ops)),
            job(registry.full_push.name, registry.full_push.description, ops)]


def push_ops(job_name: str, registry: Registry = DEFAULT) -> tuple[str, ...]:
    """The op(s) a push job runs (run config: ops.<op>.config.dry_run)."""
    if job_name == registry.full_push.name:
        return tuple(push.op for push in registry.pushes)
    return tuple(push.op for push in registry.pushes if push.job == job_name)


def push_run_config(job_name: str, *, dry_run: bool = False, confirm_large_change: bool = False) -> dict | None:
    """Run config for every push step of `job_name`: a dry run, and/or let through the safety brake
    (None when neither)."""
    config = {name: True for name, asked in (("dry_run", dry_run), ("confirm_large_change", confirm_large_change))
              if asked}
    return {"ops": {op: {"config": config} for op in push_ops(job_name)}} if config else None


def dry_run_config(job_name: str) -> dict:
    """Run config that makes every push step of `job_name` a dry run."""
    return push_run_config(job_name, dry_run=True) or {}


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=outbound_jobs(DEFAULT))
