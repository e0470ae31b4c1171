"""Unfinished Dagster runs: what they hold, who runs them, and ending those nobody runs any more.

Dagster marks a run ended only from the process executing it. A command-line run whose process
died (killed, crashed, cut off from its database) stays STARTED and keeps its pool slots, and
the daemon cannot end it: run monitoring frees the slots of *finished* runs only
(`free_slots_after_run_end_seconds`), and fails a STARTED run only when the run launcher can
check its worker's health, which neither the default launcher (UI runs) nor an in-process CLI
run offers (see dagster.yaml). So every CLI run records its process (`RunProcess` tags), and
every CLI launch, and `pco-pipeline runs`, first ends the runs whose process on this host is gone
(`end_dead_runs`): failed in Dagster with the reason, pool slots freed, `pco_sync_log` row failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.db import sync_log
from pco_pipeline.runs.process import RunProcess

Status = dg.DagsterRunStatus
UNFINISHED_STATUSES = [Status.QUEUED, Status.NOT_STARTED, Status.STARTING, Status.STARTED, Status.CANCELING]
# A queued or not-yet-started run has claimed nothing; from STARTING on, its steps may hold pool slots.
HOLDING_STATUSES = frozenset({Status.STARTING, Status.STARTED, Status.CANCELING})


class RunNotFound(LookupError):
    """No unfinished run has this id (or id prefix); the message says why (unknown, ambiguous, ended)."""


@dataclass(frozen=True)
class UnfinishedRun:
    run_id: str
    job_name: str
    status: dg.DagsterRunStatus
    since: datetime
    """When the run started, else when it was created."""
    process: RunProcess | None
    """The CLI process executing the run; None when the daemon or the UI launched it."""
    alive: bool | None
    """Whether that process runs; None when it cannot be told (another host, or not a CLI run)."""
    pools: frozenset[str]
    """The pools its steps run in, and those it holds a slot of now (a step may take a slot only
    when it first needs it: `apply_webhooks` takes `pco_api` for a re-read, defs/pco/pool_slot.py)."""
    slots: tuple[str, ...]
    """The pool slots it holds now, as "pool: step"."""

    @property
    def may_hold_pools(self) -> bool:
        return self.status in HOLDING_STATUSES and self.alive is not False

    def launcher(self) -> str:
        """Who executes the run: "pid 4242 on host (running)", or the daemon or UI."""
        if self.process is None:
            return "the Dagster daemon or UI"
        state = {True: "running", False: "gone", None: "not checkable from here"}[self.alive]
        return f"pid {self.process.pid} on {self.process.host} ({state})"

    def describe(self) -> str:
        """"run ID (job, STATUS since WHEN, launcher)": how messages name the run."""
        return (f"run {self.run_id} ({self.job_name}, {self.status.value} since {self.since:%Y-%m-%d %H:%M:%S}, "
                f"{self.launcher()})")


def unfinished_runs(instance: dg.DagsterInstance) -> list[UnfinishedRun]:
    """Every run not yet ended, oldest first."""
    records = instance.get_run_records(filters=dg.RunsFilter(statuses=UNFINISHED_STATUSES))
    held = _held_slots(instance)
    runs = []
    for record in records:
        run = record.dagster_run
        process = RunProcess.from_tags(run.tags)
        since = datetime.fromtimestamp(record.start_time) if record.start_time else record.create_timestamp
        runs.append(UnfinishedRun(
            run_id=run.run_id, job_name=run.job_name, status=run.status, since=since.astimezone().replace(tzinfo=None),
            process=process, alive=process.is_alive() if process else None,
            pools=_pools_of(instance, run) | {pool for pool, _ in held.get(run.run_id, ())},
            slots=tuple(f"{pool}: {step}" for pool, step in held.get(run.run_id, ()))))
    return sorted(runs, key=lambda r: r.since)


def find_unfinished(instance: dg.DagsterInstance, run_id: str) -> UnfinishedRun:
    """The unfinished run `run_id` (a unique prefix of at least 8 characters will do)."""
    runs = unfinished_runs(instance)
    exact = [run for run in runs if run.run_id == run_id]
    matches = exact or ([run for run in runs if run.run_id.startswith(run_id)] if len(run_id) >= 8 else [])
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise RunNotFound(f"{run_id!r} matches {len(matches)} unfinished runs: give the whole run id")
    ended = instance.get_run_by_id(run_id)
    if ended is not None:
        raise RunNotFound(f"run {run_id} already ended ({ended.status.value}): nothing to cancel")
    raise RunNotFound(f"no unfinished run {run_id!r}: `pco-pipeline runs` lists them")


def end_dead_runs(instance: dg.DagsterInstance, engine: sa.Engine, tell: Callable[[str], None]) -> None:
    """End every unfinished run whose CLI process on this host is gone, saying so through `tell`.

    Each is failed in Dagster (canceled if it was being canceled) with a message saying why, its
    pool slots are freed, and its `pco_sync_log` row ends `failed` with the same reason. Rows of
    runs that ended in Dagster while their row still says `running` are closed too.
    """
    for run in unfinished_runs(instance):
        if run.alive is not False:
            continue
        assert run.process is not None
        reason = (f"its pco-pipeline process ({run.process.describe()}) ended before the run did: killed, "
                  f"crashed or cut off from its database")
        canceled = run.status == Status.CANCELING
        end_run(instance, engine, run.run_id, reason, canceled=canceled)
        tell(f"{run.describe()}: marked {'canceled' if canceled else 'failed'} and its pool slots freed")
    close_logs_of_ended_runs(instance, engine)


def end_run(instance: dg.DagsterInstance, engine: sa.Engine, run_id: str, reason: str, *, canceled: bool) -> None:
    """Mark run `run_id` canceled or failed with `reason` (unless it already ended), free its pool
    slots, and close its `pco_sync_log` row as failed with `reason`."""
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        if canceled:
            instance.report_run_canceled(run, reason)
        else:
            instance.report_run_failed(run, reason)
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    sync_log.fail_open_rows(engine, run_id, reason)


def close_logs_of_ended_runs(instance: dg.DagsterInstance, engine: sa.Engine) -> None:
    """`pco_sync_log` rows still `running` whose Dagster run failed or was canceled end `failed`;
    those of a run that succeeded end `success` (`partial` with failed records).

    A step stopped by Ctrl-C or SIGTERM (a BaseException, which the steps do not catch) or one
    that lost its database cannot close its row itself; parallel last steps that ended together
    each left it to the other (`sync_log.close_succeeded_rows`).
    """
    run_ids = sync_log.running_run_ids(engine)
    if not run_ids:
        return
    ended = instance.get_run_records(filters=dg.RunsFilter(
        run_ids=run_ids, statuses=[Status.FAILURE, Status.CANCELED, Status.SUCCESS]))
    for record in ended:
        run = record.dagster_run
        if run.status == Status.SUCCESS:
            sync_log.close_succeeded_rows(engine, run.run_id)
            continue
        reason = (f"the run ended {run.status.value} in Dagster before its step recorded an outcome "
                  f"(interrupted, or its database was unreachable)")
        sync_log.fail_open_rows(engine, run.run_id, reason)


@dataclass(frozen=True)
class Cancellation:
    run: UnfinishedRun
    process_stopped: bool | None
    """Whether its CLI process is gone now; None when no process of this host was there to stop."""
    status: dg.DagsterRunStatus
    """The run's status afterwards."""


def cancel_run(instance: dg.DagsterInstance, engine: sa.Engine, run_id: str, *, by: str,
               grace_seconds: float = 30.0) -> Cancellation:
    """Cancel an unfinished run: its `pco_sync_log` row ends `failed` with "canceled by `by`"; a live
    CLI process on this host is asked to stop (Dagster's CANCELING, then SIGTERM; SIGKILL after
    `grace_seconds`); the run ends CANCELED and its pool slots are freed. Raises RunNotFound.

    A run launched by the daemon or the UI, or by a CLI process on another host, is marked
    canceled without stopping its worker (like the UI's force termination).
    """
    run = find_unfinished(instance, run_id)
    reason = f"canceled by {by}"
    # First, so that the run's own steps cannot mark the row success while it stops.
    sync_log.fail_open_rows(engine, run.run_id, reason)
    stopped = None
    if run.alive:
        assert run.process is not None
        dagster_run = instance.get_run_by_id(run.run_id)
        if dagster_run is not None and not dagster_run.is_finished and dagster_run.status != Status.CANCELING:
            # Dagster then ends the interrupted run CANCELED itself, rather than FAILURE.
            instance.report_run_canceling(dagster_run, reason)
        stopped = run.process.stop(grace_seconds)
    end_run(instance, engine, run.run_id, reason, canceled=True)
    final = instance.get_run_by_id(run.run_id)
    return Cancellation(run=run, process_stopped=stopped, status=final.status if final else run.status)


def _held_slots(instance: dg.DagsterInstance) -> dict[str, list[tuple[str, str]]]:
    """run id → the pool slots it holds, as (pool, step key)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    held: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for pool, info in storage.get_concurrency_infos(sorted(storage.get_concurrency_keys())).items():
        for slot in info.claimed_slots:
            held[slot.run_id].append((pool, slot.step_key))
    return held


def _pools_of(instance: dg.DagsterInstance, run: dg.DagsterRun) -> frozenset[str]:
    """The pools of the steps the run executes, from its execution plan snapshot."""
    if not run.execution_plan_snapshot_id:
        return frozenset()
    steps: Iterable = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id).steps
    if run.step_keys_to_execute:
        steps = [step for step in steps if step.key in run.step_keys_to_execute]
    return frozenset(step.pool for step in steps if step.pool)
