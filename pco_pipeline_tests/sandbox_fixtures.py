"""Sandbox fixtures shared by the suites that run the pipeline against the PCO simulator over HTTP
(inbound, browser, webhooks_e2e).

A conftest takes the fixtures it wants by importing them (`from pco_pipeline_tests.sandbox_fixtures
import pco, sandbox_url`); pytest registers a fixture wherever its function is a module global of
the conftest, and a conftest's own fixture of the same name wins.
"""

from collections.abc import Iterator

import dagster as dg
import pytest
import sqlalchemy as sa

from pco_pipeline.db.local_dataset import load_local_dataset
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.pco.resources import PCOResource
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_sandbox.core import Sandbox, SandboxConfig
from pco_pipeline.demo_data import SyntheticChurch, generate_church
from pco_sandbox.server import run_sandbox_server

SANDBOX_PEOPLE = 300
SEED = 7
# Raised far above PCO's 100 / 20 s so the tests measure behaviour, not PCO's pace.
RATE_LIMIT = "10000/1s"


def demo_sandbox(**config) -> Sandbox:
    """An empty sandbox organization accepting the demo credentials, at RATE_LIMIT; `config` adds
    or overrides SandboxConfig fields."""
    return Sandbox(SandboxConfig(**{"app_id": DEMO_APP_ID, "secret": DEMO_SECRET, "rate_limit": RATE_LIMIT,
                                    **config}))


def seed_church(sandbox: Sandbox, people: int = SANDBOX_PEOPLE, seed: int = SEED,
                engine: sa.Engine | None = None) -> SyntheticChurch:
    """The synthetic church: PCO's side loaded into `sandbox`, and, given `engine`, the church's own
    overlapping side into that database."""
    generated = generate_church(people=people, seed=seed, now=sandbox.clock.now())
    sandbox.load(generated.pco)
    if engine is not None:
        load_local_dataset(engine, generated.local)
    return generated


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """An empty sandbox organization (see demo_sandbox)."""
    box = demo_sandbox()
    yield box
    box.close()


@pytest.fixture
def church(sandbox: Sandbox, engine) -> SyntheticChurch:
    """The synthetic church of SANDBOX_PEOPLE: PCO's side in the sandbox, the church's own side in the database."""
    return seed_church(sandbox, engine=engine)


@pytest.fixture
def sandbox_url(sandbox: Sandbox) -> Iterator[str]:
    """The sandbox served over loopback HTTP; its base URL."""
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
