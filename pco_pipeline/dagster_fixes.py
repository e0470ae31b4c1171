"""Corrections to the pinned Dagster, applied by every process that loads the code location.

`pco_pipeline.definitions` imports this module, so the UI, the daemon, every run worker they
launch and every CLI run (runs/launch.py loads the same definitions) get the same behaviour.

Each correction applies only to the exact Dagster version it was written against
(`PINNED_DAGSTER_VERSION`); `pco_pipeline_tests/test_dagster_fixes.py` fails when the installed
version differs, so whoever upgrades Dagster re-checks each one and deletes what upstream fixed.
"""

from __future__ import annotations

import time

import dagster as dg
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

PINNED_DAGSTER_VERSION = "1.13.27"


def _interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    """Seconds until the soonest pending pool claim may be retried; 0 when none is pending.

    Dagster 1.13.27 returns `min([0, *waits])`, never above 0, so `ActiveExecution.sleep_til_ready`
    never sleeps and a step waiting for a pool slot spins a core until the slot frees. The
    intended value is the soonest wait, floored at 0. Only the timeouts of claims still pending
    count: a step that has since claimed its slot (or was freed) is not waited for.
    """
    if not self._pending_claims:
        return 0.0
    now = time.time()
    waits = [self._pending_timeouts[step] - now for step in self._pending_claims if step in self._pending_timeouts]
    return max(0.0, min(waits)) if waits else 0.0


def apply() -> bool:
    """Apply the corrections if the installed Dagster is the pinned version; True if applied.

    Drop `_interval_to_next_pending_claim_check` once Dagster fixes
    `InstanceConcurrencyContext.interval_to_next_pending_claim_check` upstream.
    """
    if dg.__version__ != PINNED_DAGSTER_VERSION:
        return False
    context = InstanceConcurrencyContext
    context.interval_to_next_pending_claim_check = _interval_to_next_pending_claim_check
    return True


APPLIED = apply()
