"""Every Dagster run leaves one `pco_sync_log` row; each of its steps reports into it."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Optional

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.db import sync_log


# An op's or an asset's context: both have what the run log reads (job name, run, log).
StepContext = dg.OpExecutionContext | dg.AssetExecutionContext


def sync_type_of(context: StepContext) -> str:
    """`sync_people` → people, `full_sync` → full, `push_people` → push_people; ad-hoc runs → assets."""
    job = context.job_name
    if job.startswith("__"):
        return "assets"
    return job.removeprefix("sync_").removesuffix("_sync")


# Dagster events after which a step will not run (again) in its run.
_STEP_ENDED = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_SKIPPED}


def is_last_step(context: StepContext) -> bool:
    """Whether every other step of the run's execution plan that reports into its row has ended.

    Asset check steps do not report (they run after the loads and write no row); an op, or a step
    materializing an asset, does. Steps that ended are read from the run's Dagster events (the
    current step's own end is not written yet: it is still running).
    """
    step_context = context.get_step_execution_context()
    plan, asset_layer = step_context.execution_plan, step_context.job_def.asset_layer

    def reports(step_key: str) -> bool:
        assets = asset_layer.get_assets_def_for_node(plan.get_step_by_key(step_key).node_handle)
        return assets is None or bool(assets.keys)

    others = {key for key in plan.step_keys_to_execute if key != step_context.step.key and reports(key)}
    if not others:
        return True
    ended = {record.event_log_entry.step_key for record in context.instance.get_records_for_run(
        context.run.run_id, of_type=_STEP_ENDED).records}
    return others <= ended


class StepLog:
    """One step's share of its run's `pco_sync_log` row, with progress every few seconds.

    Counters passed to `progress`/`finish` are the step's own running totals; the row shows the
    run's totals (earlier steps' counts plus this one's). Progress also goes to Dagster's log.
    """

    def __init__(self, context: StepContext, engine: sa.Engine, direction: str,
                 every_seconds: float = 5.0):
        self.context, self.engine, self.every_seconds = context, engine, every_seconds
        self.run = sync_log.run_for(engine, context.run.run_id, sync_type_of(context), direction)
        self.base = sync_log.counts_of(engine, self.run.id)
        self._last = time.monotonic()
        self.finished = False
        self.counts_on_error: Callable[[], dict[str, int]] = dict
        """What `step_log` records with an error from the step's body (e.g. the requests it used)."""
        sync_log.mark_step(engine, self.run.id, "running")

    def _totals(self, counts: dict[str, int]) -> dict[str, int]:
        return {name: self.base.get(name, 0) + counts.get(name, 0) for name in self.base}

    def progress(self, message: str, **counts: int) -> None:
        """Record running totals (created=, updated=, skipped=, failed=, requests_used=) at most every few seconds."""
        if time.monotonic() - self._last < self.every_seconds:
            return
        self._last = time.monotonic()
        sync_log.update_counts(self.engine, self.run.id, **self._totals(counts))
        self.context.log.info(message)

    def finish(self, **counts: int) -> None:
        """End the step: the row stays `running` while other steps of the run are to come; after
        the last one, `partial` when the run has failed records (quarantined, refused by PCO) — it
        finished, but someone should look; else `success`."""
        self._end(None, counts)

    def fail(self, error: BaseException, **counts: int) -> None:
        """End the step `failed` with `error`."""
        self._end(error, counts)

    def _end(self, error: Optional[BaseException], counts: dict[str, int]) -> None:
        totals = self._totals(counts)
        sync_log.update_counts(self.engine, self.run.id, **totals)
        status = "failed" if error else "partial" if totals.get("failed", 0) > 0 else "success"
        sync_log.mark_step(self.engine, self.run.id, status, error=error, last_step=is_last_step(self.context))
        self.finished = True


@contextmanager
def step_log(context: StepContext, engine: sa.Engine, direction: str) -> Iterator[StepLog]:
    """The step's `StepLog`, ended for you: an exception from the body finishes it `failed` (with
    `log.counts_on_error()`) and propagates; a body that returns without calling `log.finish(...)` is
    finished with no counts. Call `log.finish(**counts)` in the body to record the step's counts."""
    log = StepLog(context, engine, direction)
    try:
        yield log
    except Exception as exc:  # an interruption (Ctrl-C, SIGTERM) is closed with its reason by runs.control
        if not log.finished:
            log.fail(exc, **log.counts_on_error())
        raise
    if not log.finished:
        log.finish()
