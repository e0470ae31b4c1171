"""`pco-pipeline runs` lists the runs not yet ended with the process running them and the pool
slots they hold; `pco-pipeline runs cancel RUN_ID` ends one."""

import pytest

from pco_pipeline_tests.runs.conftest import log_rows, wait_for


@pytest.mark.slow
# POSTs held 8 s: listed and canceled while the push is mid-run, and the people in flight when it is
# told to stop are pushed to the end (3 POSTs at most) within the cancel's grace period.
@pytest.mark.parametrize("held_push", [8_000], indirect=True)
def test_runs_lists_a_live_push_and_cancel_stops_it(cli, held_push, engine, dagster_tables):
    push = held_push.background.process

    listed = cli.run("runs")
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if held_push.run_id in line]
    assert "push_people" in line and "STARTED" in line
    assert f"pid {push.pid} on " in line and "(running)" in line
    assert "pco_api: people_to_pco" in line

    canceled = cli.run("runs", "cancel", held_push.run_id)

    assert canceled.returncode == 0, canceled.stdout + canceled.stderr
    assert f"run {held_push.run_id} (push_people): CANCELED" in canceled.stdout
    wait_for(lambda: push.poll() is not None, 30, "the push process stopping")
    assert dagster_tables.runs()[held_push.run_id] == ("push_people", "CANCELED")
    assert held_push.run_id not in dagster_tables.slot_holders()
    [(status, error)] = log_rows(engine, "push_people")
    assert status == "failed" and error is not None and error.startswith("canceled by ") and "pco-pipeline runs cancel" in error

    after = cli.run("runs")
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip() == "no unfinished runs"


def test_cancel_of_an_unknown_run_says_so(cli):
    result = cli.run("runs", "cancel", "0f0f0f0f-0000-4000-8000-000000000000")
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: no unfinished run '0f0f0f0f-0000-4000-8000-000000000000': "
                                     "`pco-pipeline runs` lists them")
