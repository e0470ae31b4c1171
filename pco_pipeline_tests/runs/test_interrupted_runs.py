"""SIGTERM (or Ctrl-C) to a command whose run is executing: the run ends failed, its pool slot is
free and its pco_sync_log row is closed, though the interrupted step could not close it itself."""

import signal

import pytest

from pco_pipeline_tests.runs.conftest import log_rows


@pytest.mark.slow
@pytest.mark.parametrize("held_push", [5_000], indirect=True)  # the people in flight finish after SIGTERM
def test_sigterm_to_a_running_push_leaves_it_failed_and_its_log_row_closed(held_push, engine, dagster_tables):
    push = held_push.background.process
    push.send_signal(signal.SIGTERM)
    push.wait(timeout=60)  # the people in flight are pushed to the end (3 POSTs held 5 s each at most)

    assert push.returncode != 0
    assert "Traceback" not in held_push.background.stderr()
    assert dagster_tables.runs()[held_push.run_id] == ("push_people", "FAILURE")
    assert held_push.run_id not in dagster_tables.slot_holders()
    [(status, error)] = log_rows(engine, "push_people")
    assert status == "failed" and error is not None and "ended FAILURE in Dagster before its step recorded an outcome" in error
