"""Corrections to the pinned Dagster (pco_pipeline/dagster_fixes.py): a step waiting for a pool
slot sleeps between claim checks instead of spinning a core."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg
import psutil
import pytest
import sqlalchemy as sa
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.instance.ref import InstanceRef
from sqlalchemy.engine import make_url

from pco_pipeline import dagster_fixes
from pco_pipeline_tests.runs.conftest import ROOT, cli_environment, wait_for

POOL = "pco_api"
HOLDER_RUN = "holder-run"
MEASURED_SECONDS = 5.0
# A process run as a code-location process is: it loads pco_pipeline.definitions, then runs a job
# with one step in the pool.
WAITING_RUN = """
import sys
import dagster as dg
import pco_pipeline.definitions  # noqa: F401

@dg.op(pool="pco_api")
def step_in_pool() -> None:
    pass

@dg.job
def wait_for_pool() -> None:
    step_in_pool()

with dg.DagsterInstance.get() as instance:
    sys.exit(0 if wait_for_pool.execute_in_process(instance=instance, raise_on_error=False).success else 1)
"""


def test_the_pinned_dagster_is_the_one_the_fixes_were_written_for():
    assert dg.__version__ == dagster_fixes.PINNED_DAGSTER_VERSION, (
        f"Dagster is now {dg.__version__}, not {dagster_fixes.PINNED_DAGSTER_VERSION}: the fixes in "
        f"pco_pipeline/dagster_fixes.py no longer apply. Check whether Dagster still returns min(0, …) from "
        f"InstanceConcurrencyContext.interval_to_next_pending_claim_check; delete the fix if not, else re-pin it.")
    assert dagster_fixes.APPLIED


def test_a_pending_claim_not_yet_due_is_waited_for():
    context = InstanceConcurrencyContext.__new__(InstanceConcurrencyContext)  # only the claim bookkeeping
    context._pending_claims = {"pco__people"}
    context._pending_timeouts = defaultdict(float, {"pco__people": time.time() + 4.0,
                                                    "claimed_long_ago": time.time() - 60})
    assert 3.0 < context.interval_to_next_pending_claim_check() <= 4.0
    context._pending_timeouts["pco__people"] = time.time() - 1  # due: check at once
    assert context.interval_to_next_pending_claim_check() == 0.0
    context._pending_claims = set()
    assert context.interval_to_next_pending_claim_check() == 0.0


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


@pytest.mark.slow
def test_a_run_waiting_for_a_pool_slot_sleeps(tmp_path: Path, empty_database_url: str, monkeypatch):
    dagster_url = make_url(empty_database_url).set(drivername="postgresql+psycopg2").render_as_string(
        hide_password=False)
    env = cli_environment(tmp_path, DAGSTER_PG_URL=dagster_url)
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_url)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(POOL, 1)
        assert storage.claim_concurrency_slot(POOL, HOLDER_RUN, "holder_step").is_claimed
        waiting = subprocess.Popen([sys.executable, "-c", WAITING_RUN], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            pending = sa.create_engine(empty_database_url, poolclass=sa.pool.NullPool)
            with pending.connect() as conn:
                wait_for(lambda: conn.execute(sa.text(
                    "SELECT count(*) FROM pending_steps WHERE concurrency_key = :pool AND run_id <> :holder"),
                    {"pool": POOL, "holder": HOLDER_RUN}).scalar() or waiting.poll() is not None,
                    120, "the run's step waiting for the pool")
            pending.dispose()
            assert waiting.poll() is None, waiting.communicate()[0]
            process = psutil.Process(waiting.pid)
            cpu_before, wall_before = _cpu_seconds(process), time.monotonic()
            time.sleep(MEASURED_SECONDS)
            cpu_used, wall = _cpu_seconds(process) - cpu_before, time.monotonic() - wall_before
            assert waiting.poll() is None  # still waiting
            assert cpu_used < 0.3 * wall, f"waiting for the pool used {cpu_used:.2f} s of CPU in {wall:.1f} s"

            storage.free_concurrency_slots_for_run(HOLDER_RUN)
            output, _ = waiting.communicate(timeout=60)  # at most one claim interval (15 s) later
            assert waiting.returncode == 0, output
        finally:
            if waiting.poll() is None:
                waiting.kill()
                waiting.wait(timeout=30)
