"""Push jobs: what the church has and PCO lacks → PCO (rules in `pco_pipeline.sync.push`).

    push_people              people (+ emails, phones, family address)
    push_families            households (+ members added since)
    push_group_memberships   memberships in PCO groups (+ role changes)
    full_push                the three, in that order, in one run

Every op takes `dry_run` (run config `ops: {people_to_pco: {config: {dry_run: true}}}`, see
`dry_run_config`, or `pco-pipeline push … --dry-run`): the plan is made and shown, nothing is sent. Each op's output
metadata holds the counts per action and the plan as a markdown table, field by field; every
run leaves one `pco_sync_log` row (direction outbound; a dry run's counts only its skips). The
PCO steps run in the `pco_api` pool. A dry run of full_push plans each step against the database
as it is: families and memberships of people the first step would create show as waiting.
What a push wrote shows in lineage as asset events (`defs/church_db/lineage.py`).
"""

from collections.abc import Callable

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.church_db.lineage import push_asset_events
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.church_db.runlog import step_log
from pco_pipeline.defs.pco.resources import PCO_API_POOL, PCOResource
from pco_pipeline.sync.push import PushAborted, PushReport
from pco_pipeline.sync.families_push import run_families_push
from pco_pipeline.sync.memberships_push import run_group_memberships_push
from pco_pipeline.sync.people_push import DEFAULT_WORKERS, run_people_push

OUTBOUND_TAGS = {"pco/direction": "outbound"}


class PushConfig(dg.Config):
    dry_run: bool = False
    """Plan only: show what would be sent, send nothing (no request at all)."""


class PeoplePushConfig(PushConfig):
    workers: int = DEFAULT_WORKERS
    """People pushed at once (they share the one rate budget; more hides PCO's latency)."""


def _metadata(report: PushReport, requests: int) -> dict:
    plan = report.plan
    metadata = {
        "dry_run": dg.MetadataValue.bool(report.dry_run),
        "planned_writes": dg.MetadataValue.int(plan.total_writes),
        "planned": dg.MetadataValue.json(plan.counts()),
        "plan": dg.MetadataValue.md(plan.markdown()),
        "requests_used": dg.MetadataValue.int(requests),
    }
    if not report.dry_run:
        metadata.update({name: dg.MetadataValue.int(n) for name, n in report.counts.totals().items()})
        metadata["outcomes"] = dg.MetadataValue.md(report.counts.markdown())
        metadata["outcomes_by_resource"] = dg.MetadataValue.json(report.counts.by_resource())
        if report.failures:
            metadata["failures"] = dg.MetadataValue.md("\n".join(f"- {line}" for line in report.failures))
    return metadata


def _run_push(context: dg.OpExecutionContext, church_db: PostgresResource, pco: PCOResource, dry_run: bool,
              push: Callable[..., PushReport]) -> None:
    engine: sa.Engine = church_db.get_engine()
    client = None if dry_run else pco.get_client()
    before = client.counters.snapshot() if client is not None else None

    def requests() -> int:
        return (client.counters.snapshot() - before).requests if client is not None else 0

    try:
        with step_log(context, engine, "outbound") as step:
            step.counts_on_error = lambda: {"requests_used": requests()}

            def progress(report: PushReport) -> None:
                step.progress(f"{report.push}: {report.counts.totals()}", **report.counts.sync_log(),
                              requests_used=requests())

            report = push(engine, client, run_id=context.run.run_id, dry_run=dry_run, progress=progress)
            if dry_run:
                step.finish(skipped=sum(report.plan.skips.values()))
            else:
                step.finish(**report.counts.sync_log(), requests_used=requests())
    except PushAborted as exc:
        raise dg.Failure(description=str(exc)) from exc
    context.log.info(report.summary())
    for line in report.failures:
        context.log.warning(line)
    context.add_output_metadata(_metadata(report, requests()))
    # Lineage: the church tables given PCO ids, and the pco/* assets whose PCO records changed.
    for event in push_asset_events(report):
        context.log_event(event)


@dg.op(pool=PCO_API_POOL,
       description="Creates church people PCO lacks (remote_id = local id) with their emails, phones and family "
                   "address; stores each PCO id as soon as PCO confirms it. Crash-safe: a create whose answer was "
                   "lost is found by remote_id, not made twice.")
def people_to_pco(context: dg.OpExecutionContext, config: PeoplePushConfig, church_db: PostgresResource,
                pco: PCOResource) -> None:
    _run_push(context, church_db, pco, config.dry_run,
              lambda *args, **kwargs: run_people_push(*args, workers=config.workers, **kwargs))


@dg.op(pool=PCO_API_POOL, ins={"after": dg.In(dg.Nothing)},
       description="Creates PCO households for church families whose members are in PCO (with the primary "
                   "contact), and adds members PCO's households lack with pending: false.")
def families_to_pco(context: dg.OpExecutionContext, config: PushConfig, church_db: PostgresResource,
                  pco: PCOResource) -> None:
    _run_push(context, church_db, pco, config.dry_run, run_families_push)


@dg.op(pool=PCO_API_POOL, ins={"after": dg.In(dg.Nothing)},
       description="Adds the church's memberships in PCO groups that PCO lacks (leader → leader, else member) and "
                   "corrects roles that differ. Never writes groups themselves.")
def group_memberships_to_pco(context: dg.OpExecutionContext, config: PushConfig, church_db: PostgresResource,
                           pco: PCOResource) -> None:
    _run_push(context, church_db, pco, config.dry_run, run_group_memberships_push)


def _job(name: str, description: str):
    # One process per run: one shared rate budget, steps in order.
    return dg.job(name=name, description=description, tags=OUTBOUND_TAGS, executor_def=dg.in_process_executor)


@_job("push_people", "Church people PCO lacks → PCO people (with emails, phones, family address). Set dry_run "
                     "to see the plan without sending anything.")
def push_people():
    people_to_pco()


@_job("push_families", "Church families → PCO households, and new members → household members. Run after "
                       "push_people.")
def push_families():
    families_to_pco()


@_job("push_group_memberships", "Church memberships in PCO groups → PCO memberships (and role changes).")
def push_group_memberships():
    group_memberships_to_pco()


@_job("full_push", "Everything outbound in order: people → families → group memberships. Set dry_run on each "
                   "step to see the whole plan without sending anything.")
def full_push():
    group_memberships_to_pco(after=families_to_pco(after=people_to_pco()))


OUTBOUND_JOBS = (push_people, push_families, push_group_memberships, full_push)
# The op each push job runs (run config: ops.<op>.config.dry_run).
PUSH_OPS = {"push_people": ("people_to_pco",), "push_families": ("families_to_pco",),
            "push_group_memberships": ("group_memberships_to_pco",),
            "full_push": ("people_to_pco", "families_to_pco", "group_memberships_to_pco")}


def dry_run_config(job_name: str) -> dict:
    """Run config that makes every push step of `job_name` a dry run."""
    return {"ops": {op: {"config": {"dry_run": True}} for op in PUSH_OPS[job_name]}}


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=list(OUTBOUND_JOBS))
