"""`pco-pipeline sync …` and `pco-pipeline history`: inbound runs from the shell, and the run log."""

from __future__ import annotations

import sys

from pco_pipeline.db.engine import get_engine
from pco_pipeline.db.sync_log import recent_runs
from pco_pipeline.runs.launch import prepare_environment, run_job

SYNC_JOBS = {"people": "sync_people", "families": "sync_families", "groups": "sync_groups",
             "checkins": "sync_checkins", "calendar": "sync_calendar", "full": "full_sync"}


def register(subparsers) -> None:
    sync = subparsers.add_parser("sync", help="pull from PCO into the church database (the UI's sync jobs)")
    sync.add_argument("what", choices=list(SYNC_JOBS), help="which sync job to run")
    sync.add_argument("--full-refresh", action="store_true",
                      help="re-read everything instead of only what changed (also finds deletions)")
    sync.add_argument("--confirm", action="store_true",
                      help="let this run through the safety brake (PCO changed more of the church than "
                           "PCO_SAFETY_BRAKE_SHARE; check it is not PCO restored from an old backup or a wrong "
                           "mapping first)")
    sync.set_defaults(handler=run_sync)

    history = subparsers.add_parser("history", help="the last runs recorded in pco_sync_log")
    history.add_argument("--limit", type=int, default=20)
    history.set_defaults(handler=run_history)


def job_run_config(job_name: str, full_refresh: bool, confirm: bool = False) -> dict:
    """The run config the CLI passes: full_refresh on every pco/* step of the job, and
    confirm_large_change on every church/* step (the safety brake lets them through), when asked."""
    from pco_pipeline.defs.inbound.jobs import full_refresh_run_config
    from pco_pipeline.defs.inbound.load import confirm_run_config
    from pco_pipeline.sync.registry import DEFAULT

    extracts, loads = DEFAULT.job_assets(job_name)
    steps = {**(full_refresh_run_config(extracts)["ops"] if full_refresh else {}),
             **(confirm_run_config(loads)["ops"] if confirm else {})}
    return {"ops": steps} if steps else {}


def summarize(result) -> list[str]:
    """One line per materialized asset: its key and the counts a person looks at."""
    lines = []
    interesting = ("records_fetched", "new", "changed", "removed", "requests_used", "rate_limited_429s",
                   "created", "updated", "unchanged", "quarantined", "deactivated")
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        metadata = materialization.metadata
        parts = [f"{k}={metadata[k].value}" for k in interesting if k in metadata]
        lines.append(f"  {materialization.asset_key.to_user_string():<26} " + " ".join(parts))
    return lines


def run_sync(args) -> int:
    job_name = SYNC_JOBS[args.what]
    result = run_job(job_name, run_config=job_run_config(job_name, args.full_refresh, args.confirm))
    for line in summarize(result):
        print(line)
    print(f"run {result.run_id} ({job_name}): {'success' if result.success else 'FAILED'}")
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                print(f"  {event.step_key}: {error.message.strip() if error else 'failed'}", file=sys.stderr)
    return 0 if result.success else 1


def run_history(args) -> int:
    target = prepare_environment()
    runs = recent_runs(get_engine(target.url), limit=args.limit)
    if not runs:
        print("no runs yet")
        return 0
    print(f"{'started':<20} {'type':<18} {'direction':<9} {'status':<8} {'created':>7} {'updated':>7} "
          f"{'skipped':>7} {'failed':>6} {'requests':>8}  error")
    for run in runs:
        print(f"{run.started_at:%Y-%m-%d %H:%M:%S}  {run.sync_type:<18} {run.direction:<9} {run.status:<8} "
              f"{run.created_count:>7} {run.updated_count:>7} {run.skipped_count:>7} {run.failed_count:>6} "
              f"{run.requests_used:>8}  {(run.error_message or '')[:80]}")
    return 0
