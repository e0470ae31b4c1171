"""A pool slot taken by a step when it first needs it, not before the step starts.

`apply_webhook_events` calls PCO only to re-read a thin or stale delivery; most runs make no
request. Declaring `pool=pco_api` on it made every webhook run wait for the slot behind pushes
(and the run queue hold it back while the slot was taken), seconds of each PCO edit's latency.
Instead the step takes the `pco_api` slot just before its first PCO request and holds it until
the step ends, through Dagster's own claim (the same slots, queue order and default limit as a
declared pool; the UI's pool page and `pco-pipeline runs` show it like any other claim). So every
PCO request is still made holding the credential's one slot.

Crash safety is Dagster's, as for a declared pool: the slot is keyed by the run and step; a run
that ends frees it here, a dead run's slot is freed when the run is ended (`pco-pipeline runs
cancel`, the next CLI launch for CLI runs) or by run monitoring after
`free_slots_after_run_end_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

@contextmanager
def slot_on_first_use(context: dg.OpExecutionContext, pool: str) -> Iterator[Callable[[], None]]:
    """Yield `take`: the first call blocks until this step holds a slot of `pool` (logging once
    that it waits), later calls return at once. The slot, or the pending claim, is freed when the
    block ends, however it ends."""
    step_key = context.get_step_execution_context().step.key
    with InstanceConcurrencyContext(context.instance, context.run) as concurrency:
        held = False

        def take() -> None:
            nonlocal held
            if held:
                return
            told = False
            while not concurrency.claim(pool, step_key):
                if not told:
                    told = True
                    context.log.info(f"waiting for the {pool} pool before calling PCO")
                # Dagster's spacing between claim checks (1 s, growing), as for a declared pool.
                time.sleep(max(0.1, concurrency.interval_to_next_pending_claim_check()))
            held = True

        try:
            yield take
        finally:
            concurrency.free_step(step_key)
