"""`pco-pipeline job list|run`: any Dagster job of the code location, in-process, on the persistent instance."""

from __future__ import annotations

import json
import sys

from pco_pipeline.runs.launch import run_job


def register(subparsers) -> None:
    job = subparsers.add_parser("job", help="list or run the Dagster jobs of this project")
    job_sub = job.add_subparsers(dest="job_command", metavar="ACTION", required=True)
    job_sub.add_parser("list", help="the jobs the UI offers").set_defaults(handler=run_list)
    run = job_sub.add_parser("run", help="run one job in-process on the persistent Dagster instance")
    run.add_argument("name")
    run.add_argument("--config-json", default=None, help="run config as JSON, as in the Launchpad")
    run.set_defaults(handler=run_one)


def run_list(args) -> int:
    from pco_pipeline.definitions import defs

    for job in sorted(defs().resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        print(f"{job.name:<28} {job.description or ''}")
    return 0


def run_one(args) -> int:
    config = json.loads(args.config_json) if args.config_json else None
    result = run_job(args.name, run_config=config)
    print(f"run {result.run_id}: {'success' if result.success else 'FAILED'}")
    report_failures(result)
    return 0 if result.success else 1


def report_failures(result) -> None:
    """Each failed step of `result` (an ExecuteInProcessResult) with its error, on stderr."""
    for event in result.all_events:
        if event.is_failure and event.event_specific_data is not None:
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:
                print(f"  {event.step_key}: {error.message.strip()}", file=sys.stderr)
