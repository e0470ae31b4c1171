"""A command-line run whose process died (kill -9) does not block the next run: the next command
ends it (failed, with the reason), frees its pool slot and closes its pco_sync_log row."""

import signal

import pytest

from pco_pipeline_tests.runs.conftest import log_rows


@pytest.mark.slow
def test_a_killed_push_is_failed_and_its_slot_freed_by_the_next_sync(cli, held_push, sandbox, engine,
                                                                     dagster_tables):
    push = held_push.background.process
    push.send_signal(signal.SIGKILL)
    push.wait(timeout=30)
    assert dagster_tables.runs()[held_push.run_id] == ("push_people", "STARTED")  # what Dagster is left with
    assert held_push.run_id in dagster_tables.slot_holders()
    sandbox.faults.remove(held_push.fault.id)

    sync = cli.run("sync", "people", timeout=180)

    assert sync.returncode == 0, sync.stdout[-2000:] + sync.stderr[-3000:]
    assert f"run {held_push.run_id} (push_people" in sync.stderr  # the command says what it ended, and why
    runs = dagster_tables.runs()
    assert runs[held_push.run_id] == ("push_people", "FAILURE")
    assert runs[dagster_tables.run_of("sync_people")] == ("sync_people", "SUCCESS")
    assert not dagster_tables.slot_holders()
    [(status, error)] = log_rows(engine, "push_people")
    assert status == "failed" and error is not None
    assert f"pid {push.pid}" in error and "ended before the run did" in error
