"""apply_webhooks takes the `pco_api` slot only when it calls PCO: a delivery that applies from its
payload goes while a push holds the slot; one that needs a re-read waits for the slot, then frees it."""

import threading
import time

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.pco.resources import PCO_API_POOL
from pco_pipeline_tests.webhooks_e2e.conftest import drain, local_person, wait_for_deliveries
from pco_pipeline_tests.webhooks_e2e.test_burst import pick_people

PUSH_RUN = "a-push-run"   # holds the pco_api slot, as a push_changes run's step does


def others_in_pool(instance: dg.DagsterInstance) -> tuple[set[str], set[str]]:
    """Runs other than the push waiting for, and holding, the pco_api slot."""
    info = instance.event_log_storage.get_concurrency_info(PCO_API_POOL)
    waiting = {step.run_id for step in info.pending_steps if step.assigned_timestamp is None} - {PUSH_RUN}
    holding = {slot.run_id for slot in info.claimed_slots} - {PUSH_RUN}
    return waiting, holding


def church_has(engine: sa.Engine, pco_id: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM people WHERE pco_id = :p"), {"p": pco_id}).scalar_one() == 1


def test_only_a_re_read_waits_for_the_pco_api_slot(sandbox, synced, receiver, resources):
    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(PCO_API_POOL, 1)
        assert storage.claim_concurrency_slot(PCO_API_POOL, PUSH_RUN, "push_church_changes").is_claimed

        # A rename carries the whole record: applied while the push holds the slot, no claim made.
        (person,) = pick_people(sandbox, synced, 1)
        sandbox.controls.update_record("people/people", person, {"last_name": "Renamed"})
        wait_for_deliveries(sandbox)
        renamed = drain(instance, resources)
        assert [run.success for run in renamed.runs] == [True]
        assert local_person(synced, person).last_name == "Renamed"
        assert others_in_pool(instance) == (set(), set())

        # A new person is re-read from PCO (with contacts): the run waits for the slot.
        newcomer = sandbox.controls.create_person(first_name="Pool", last_name="Newcomer").id
        wait_for_deliveries(sandbox)
        outcome: dict = {}
        worker = threading.Thread(target=lambda: outcome.update(drained=drain(instance, resources, renamed.cursor)))
        worker.start()
        deadline = time.monotonic() + 60
        while not others_in_pool(instance)[0]:
            assert worker.is_alive() and time.monotonic() < deadline, "the run did not wait for the pco_api slot"
            time.sleep(0.05)
        time.sleep(1.0)
        assert worker.is_alive() and not church_has(synced, newcomer)   # still waiting, nothing read

        storage.free_concurrency_slots_for_run(PUSH_RUN)
        worker.join(timeout=60)
        assert not worker.is_alive()
        assert [run.success for run in outcome["drained"].runs] == [True]
        assert church_has(synced, newcomer)
        assert others_in_pool(instance) == (set(), set())   # the slot was freed when the step ended
