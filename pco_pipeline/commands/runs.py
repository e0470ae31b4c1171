"""`pco-pipeline runs` and `pco-pipeline runs cancel RUN_ID`: the Dagster runs not yet ended, who
runs them and the pool slots they hold, and ending one that is stuck."""

from __future__ import annotations

import getpass
import os
import sys

from pco_pipeline.runs.launch import instance_and_engine, prepare_environment
from pco_pipeline.runs.control import RunNotFound, cancel_run, unfinished_runs
from pco_pipeline.runs.process import this_host

CANCEL_GRACE_SECONDS = 30.0


def register(subparsers) -> None:
    runs = subparsers.add_parser(
        "runs", help="the runs not yet ended: status, the process running them, the pool slots they hold")
    runs.set_defaults(handler=run_list)
    actions = runs.add_subparsers(dest="runs_command", metavar="ACTION")
    cancel = actions.add_parser(
        "cancel", help="end a run: mark it canceled, stop its pco-pipeline process on this host, free its pool "
                       "slots, close its pco_sync_log row as failed")
    cancel.add_argument("run_id", help="the run's id (or a unique prefix of at least 8 characters)")
    cancel.set_defaults(handler=run_cancel)


def run_list(args) -> int:
    """Runs whose process is gone are ended first (said on stderr), then the others are listed."""
    with instance_and_engine(prepare_environment()) as (instance, _engine):
        runs = unfinished_runs(instance)
    if not runs:
        print("no unfinished runs")
        return 0
    print(f"{'run id':<36}  {'job':<24} {'status':<10} {'since':<19}  {'process':<48}  pool slots held")
    for run in runs:
        print(f"{run.run_id:<36}  {run.job_name:<24} {run.status.value:<10} {run.since:%Y-%m-%d %H:%M:%S}  "
              f"{run.launcher():<48}  {', '.join(run.slots) or '-'}")
    return 0


def run_cancel(args) -> int:
    by = f"{_user()}@{this_host()} (pco-pipeline runs cancel)"
    # No sweep first: a dead run named here is canceled, not failed.
    with instance_and_engine(prepare_environment(), end_dead_runs=False) as (instance, engine):
        try:
            outcome = cancel_run(instance, engine, args.run_id, by=by, grace_seconds=CANCEL_GRACE_SECONDS)
        except RunNotFound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    run = outcome.run
    print(f"run {run.run_id} ({run.job_name}): {outcome.status.value}; its pool slots are free and its "
          f"pco_sync_log row failed (canceled by {by})")
    if outcome.process_stopped is False:
        assert run.process is not None  # only a process that was there can have failed to stop
        print(f"warning: its process ({run.process.describe()}) could not be stopped: stop it by hand",
              file=sys.stderr)
        return 1
    if run.process is None:
        print("note: the Dagster daemon or UI launched it; if its run worker still runs, terminate it in the UI",
              file=sys.stderr)
    elif run.alive is None:
        print(f"note: its process ({run.process.describe()}) runs on another host; stop it there if it still runs",
              file=sys.stderr)
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (some containers)
        return f"uid {os.getuid()}"
