"""A run that takes a pool slot only once its step needs it (apply_webhooks takes `pco_api` for a
re-read: defs/pco/pool_slot.py) declares no pool, yet a command-line run needing that pool waits
for it and names it, as it names a push."""

import uuid

import dagster as dg
import pytest

from pco_pipeline.defs.pco.resources import PCO_API_POOL
from pco_pipeline_tests.runs.conftest import wait_for

WAITING = "waiting for the pco_api pool"


@pytest.fixture
def instance(cli, monkeypatch):
    """The Dagster instance the CLI's commands use (its dagster.yaml, its storage)."""
    monkeypatch.setenv("DAGSTER_PG_URL", cli.env["DAGSTER_PG_URL"])
    with dg.DagsterInstance.from_config(cli.env["DAGSTER_HOME"]) as instance:
        yield instance


@pytest.mark.slow
def test_a_sync_waits_for_a_webhook_run_re_reading_and_names_it(cli, instance, dagster_tables):
    webhook_run = str(uuid.uuid4())
    instance.add_run(dg.DagsterRun(job_name="apply_webhooks", run_id=webhook_run, status=dg.DagsterRunStatus.STARTED))
    storage = instance.event_log_storage
    storage.set_concurrency_slots(PCO_API_POOL, 1)
    assert storage.claim_concurrency_slot(PCO_API_POOL, webhook_run, "apply_webhook_events").is_claimed

    sync = cli.start("sync", "people")
    wait_for(lambda: WAITING in sync.stderr() or sync.process.poll() is not None, 60,
             "the sync waiting for the slot the webhook run holds")
    assert sync.process.poll() is None, sync.stderr()[-3000:]
    [line] = [line for line in sync.stderr().splitlines() if WAITING in line]
    assert f"run {webhook_run} (apply_webhooks, STARTED since " in line
    assert "sync_people" not in {job for job, _status in dagster_tables.runs().values()}  # not started meanwhile

    # The re-read ends and its step frees the slot (the run itself may still be finishing): the
    # sync goes on by itself.
    storage.free_concurrency_slots_for_run(webhook_run)
    sync.process.wait(timeout=180)
    assert sync.process.returncode == 0, sync.stderr()[-3000:]
    assert sync.stderr().count(WAITING) == 1
    assert dagster_tables.runs()[dagster_tables.run_of("sync_people")] == ("sync_people", "SUCCESS")
