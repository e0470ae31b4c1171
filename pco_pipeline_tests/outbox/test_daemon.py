"""Through the daemon: a church edit made with plain SQL reaches PCO with no command run. `dg dev`
(webserver and daemon, the project's dagster.yaml, its own instance) runs the code location with
push_church_changes_sensor on by default, ticking every second here; the run it launches pushes
to the sandbox over HTTP."""

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pco_pipeline_tests.browser.conftest import dagster_log, dagster_ui  # noqa: F401 (fixtures register by being imported)
from pco_pipeline_tests.outbound.test_push_two_way import synced_church
from pco_pipeline_tests.outbox.conftest import outbox_rows
from pco_sandbox.core import Sandbox
from pco_sandbox.server import run_sandbox_server

ARRIVAL_SECONDS = 180


@pytest.fixture
def sandbox_url(sandbox: Sandbox) -> Iterator[str]:
    """The empty sandbox organization over HTTP (no seeded church: the test makes its own)."""
    with run_sandbox_server(sandbox) as base_url:
        yield base_url


@pytest.fixture
def dagster_env() -> dict[str, str]:
    return {"PCO_OUTBOX_SENSOR_INTERVAL_SECONDS": "1"}


@pytest.mark.slow
def test_a_plain_sql_edit_reaches_pco_through_the_daemons_sensor(engine, pipeline_engine, client, sandbox,
                                                                  dagster_ui, dagster_log):
    people = synced_church(pipeline_engine, client, sandbox, [("Ada", "Byron")])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE people SET nickname = 'Addie' WHERE pco_id = :p"), {"p": people["Ada"]})
    edited = time.monotonic()

    deadline = edited + ARRIVAL_SECONDS
    while sandbox.store.require("people/people", people["Ada"]).attributes.get("nickname") != "Addie":
        assert time.monotonic() < deadline, f"the edit did not reach PCO in {ARRIVAL_SECONDS} s:\n{dagster_log()}"
        time.sleep(0.5)
    arrived = time.monotonic() - edited
    while [row.status for row in outbox_rows(engine)] != ["sent"]:
        assert time.monotonic() < deadline, f"outbox: {outbox_rows(engine)}\n{dagster_log()}"
        time.sleep(0.5)
    print(f"church edit → PCO through the daemon: {arrived:.1f} s")
