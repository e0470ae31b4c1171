"""Inbound fixtures: the seeded sandbox church over real HTTP (with the overlapping local church
dataset loaded into the test database), and Dagster resources pointed at both."""

from collections.abc import Iterator

import dagster as dg
import pytest

from pco_pipeline.db.local_dataset import load_local_dataset
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.pco.resources import PCOResource
from pco_pipeline.sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_pipeline.sandbox.core import Sandbox, SandboxConfig
from pco_pipeline.sandbox.seed import generate_church
from pco_pipeline.sandbox.server import run_sandbox_server

SANDBOX_PEOPLE = 300
SEED = 7


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """An empty sandbox organization; the limit is raised so tests measure behaviour, not PCO's pace."""
    box = Sandbox(SandboxConfig(app_id=DEMO_APP_ID, secret=DEMO_SECRET, rate_limit="10000/1s"))
    yield box
    box.close()


@pytest.fixture
def church(sandbox: Sandbox, engine):
    """The synthetic church: PCO's side loaded into the sandbox, the church's own side into the database."""
    generated = generate_church(people=SANDBOX_PEOPLE, seed=SEED, now=sandbox.clock.now())
    sandbox.load(generated.pco)
    load_local_dataset(engine, generated.local)
    return generated


@pytest.fixture
def sandbox_url(sandbox: Sandbox) -> Iterator[str]:
    with run_sandbox_server(sandbox) as base_url:
        yield base_url


@pytest.fixture
def pco(sandbox_url: str) -> PCOResource:
    return PCOResource(base_url=sandbox_url, app_id=DEMO_APP_ID, secret=DEMO_SECRET, max_retries=1)


@pytest.fixture
def resources(pco: PCOResource, database_url: str) -> dict:
    return {"pco": pco, "church_db": PostgresResource(database_url=database_url)}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def run_job(resources, instance):
    """Run a job of the code location in-process, as the CLI does; returns the result."""
    from pco_pipeline.definitions import defs

    loaded = defs()

    def run(name: str, run_config: dict | None = None):
        job = loaded.resolve_job_def(name)
        return job.execute_in_process(run_config=run_config or {}, resources=resources, instance=instance,
                                      raise_on_error=False)

    return run


def materialized(result) -> dict[str, dict]:
    """asset key → its materialization metadata values, for one run."""
    out = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        out[materialization.asset_key.to_user_string()] = {k: v.value for k, v in materialization.metadata.items()}
    return out
