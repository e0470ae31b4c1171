"""No echo: PCO's webhooks about what push_changes itself sent, received by the real receiver and
applied by apply_webhooks, write no outbox row, so nothing is pushed back."""

import sqlalchemy as sa

from pco_pipeline.sync.webhook_apply import ECHO_NOTE
from pco_pipeline_tests.outbox.conftest import outbox_rows, run_request, sensor_tick
from pco_pipeline_tests.webhooks_e2e.conftest import (  # noqa: F401 (fixtures register by being imported)
    drain,
    inbox_rows,
    receiver,
    receiver_port,
    receiver_url,
    sandbox,
    seeded,
    subscribed,
    synced,
    wait_for_deliveries,
)


def test_the_webhooks_of_our_own_push_change_nothing_and_push_nothing(synced, receiver, sandbox, database_url,
                                                                     instance, resources):
    with synced.begin() as conn:
        conn.execute(sa.text("DELETE FROM church_outbox"))   # the test's dataset import: already in PCO or pushed
        pco_id = conn.execute(sa.text("SELECT min(pco_id) FROM people WHERE is_active")).scalar_one()
        conn.execute(sa.text("UPDATE people SET nickname = 'Echo' WHERE pco_id = :p"), {"p": pco_id})
    tick = sensor_tick(database_url, instance, cursor=None)
    assert run_request(tick, resources, instance).success
    assert sandbox.store.require("people/people", pco_id).attributes["nickname"] == "Echo"

    wait_for_deliveries(sandbox)
    drained = drain(instance, resources)

    assert drained.runs and all(run.success for run in drained.runs)
    assert {(row.status, row.status_reason) for row in inbox_rows(synced)} == {("applied", ECHO_NOTE)}
    assert [(row.operation, row.status) for row in outbox_rows(synced)] == [("update", "sent")]
    assert sensor_tick(database_url, instance, cursor=tick.cursor).run_requests == []
