"""A run that needs the pco_api pool while a live run holds it says once which run that is, waits
without using the CPU, and stops at once on SIGTERM, leaving no run behind."""

import signal
import time

import psutil
import pytest

from pco_pipeline_tests.runs.conftest import wait_for

WAITING = "waiting for the pco_api pool"


@pytest.mark.slow
def test_a_waiting_sync_names_the_holder_once_and_stops_on_sigterm(cli, held_push, dagster_tables):
    sync = cli.start("sync", "people")
    wait_for(lambda: WAITING in sync.stderr() or sync.process.poll() is not None, 60,
             "the waiting sync naming the run that holds the pool")
    [line] = [line for line in sync.stderr().splitlines() if WAITING in line]
    assert f"run {held_push.run_id} (push_people, STARTED since " in line
    assert f"pid {held_push.background.process.pid} on " in line

    # Waiting is sleeping: a few seconds of it cost a small fraction of one core (spinning took all of it).
    process = psutil.Process(sync.process.pid)
    before, started = sum(process.cpu_times()[:2]), time.monotonic()
    time.sleep(3)
    used = sum(process.cpu_times()[:2]) - before
    assert used < 0.25 * (time.monotonic() - started), f"{used:.2f} s of CPU while waiting"

    sync.process.send_signal(signal.SIGTERM)
    sync.process.wait(timeout=15)
    assert sync.process.returncode != 0
    assert sync.stderr().count(WAITING) == 1
    assert "Traceback" not in sync.stderr()
    runs = dagster_tables.runs()
    assert [job for job, _status in runs.values()] == ["push_people"]  # no sync_people run left behind
    assert runs[held_push.run_id] == ("push_people", "STARTED")  # the holder goes on
    assert held_push.background.process.poll() is None


@pytest.mark.slow
def test_a_waiting_sync_runs_once_the_holder_dies(cli, held_push, sandbox, dagster_tables):
    sync = cli.start("sync", "people")
    wait_for(lambda: WAITING in sync.stderr() or sync.process.poll() is not None, 60, "the sync waiting")
    sandbox.faults.remove(held_push.fault.id)
    held_push.background.process.send_signal(signal.SIGKILL)

    sync.process.wait(timeout=120)

    assert sync.process.returncode == 0, sync.stderr()[-3000:]
    assert f"run {held_push.run_id} (push_people, STARTED since " in sync.stderr().split(WAITING)[-1]
    runs = dagster_tables.runs()
    assert runs[held_push.run_id] == ("push_people", "FAILURE")
    assert runs[dagster_tables.run_of("sync_people")] == ("sync_people", "SUCCESS")
