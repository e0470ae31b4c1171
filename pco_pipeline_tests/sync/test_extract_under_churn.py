"""Every catalog resource extracted from a sandbox that changes between pages, over real HTTP.

For each resource: 260 records (three pages at PCO's maximum of 100), read by the extract's own
plan — keyset where PCO's reference allows it, a complete listing otherwise — while the sandbox
deletes records the reader has just been given and adds new ones after every page
(`controls.churn_between_pages`). A full run, then an incremental run, each under churn, must land
every record that existed throughout the run and mark nothing removed that PCO still has; a
last full refresh without churn must land exactly what PCO holds. Every request the sandbox saw
carries only parameters PCO's reference says the route honours.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa

from pco_pipeline.pco import BasicCredentials, PCOClient, PCOConfig
from pco_reference import route_for
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_sandbox.server import run_sandbox_server
from pco_pipeline.sync.catalog import RESOURCES
from pco_pipeline.sync.extract import NESTED_PARENTS, extract_resource
from pco_pipeline_tests.capability_data import dataset
from pco_pipeline_tests.sandbox_fixtures import demo_sandbox

RECORDS = 260
# Per page: more removed than a listing page's overlap (2), so listings must step back and re-read.
REMOVED_PER_PAGE, ADDED_PER_PAGE, CHURNED_PAGES = 3, 2, 3


@pytest.fixture(params=sorted(RESOURCES))
def churning(request) -> Iterator[tuple[str, object, PCOClient]]:
    key = request.param
    sandbox = demo_sandbox()
    sandbox.load(dataset(key, RECORDS).data)
    with run_sandbox_server(sandbox) as base_url:
        config = PCOConfig(base_url=base_url, basic=BasicCredentials(DEMO_APP_ID, DEMO_SECRET))
        with PCOClient(config) as client:
            yield key, sandbox, client
    sandbox.close()


def _landed(engine: sa.Engine, key: str) -> tuple[set[str], set[str]]:
    """(active, removed) landed ids of `key`."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT pco_id, removed_at IS NOT NULL FROM pco_landing WHERE resource = :r"),
                            {"r": key}).all()
    return {i for i, removed in rows if not removed}, {i for i, removed in rows if removed}


def _ids(sandbox, key: str) -> set[str]:
    return {r.id for r in sandbox.store.all(key)}


def _run_under_churn(engine, sandbox, client, key: str, ever: set[str], *, full_refresh: bool):
    """One extract while the sandbox churns; `ever` (ids PCO ever held) grows by what it added."""
    before = _ids(sandbox, key)
    churn = sandbox.controls.churn_between_pages(key, remove=REMOVED_PER_PAGE, add=ADDED_PER_PAGE,
                                                 pages=CHURNED_PAGES)
    report = extract_resource(client, engine, key, full_refresh=full_refresh)
    churn.stop()
    ever |= set(churn.added)
    throughout = before - set(churn.removed)
    active, removed = _landed(engine, key)
    assert throughout <= active, f"{key}: not landed though in PCO all along: {sorted(throughout - active)[:5]}"
    assert active <= ever, f"{key}: landed records PCO never had"
    assert not removed & _ids(sandbox, key), f"{key}: marked removed while PCO still has them"
    return report, churn


def test_every_resource_lands_in_full_and_incremental_runs_with_records_added_and_removed_between_pages(
        churning, engine):
    key, sandbox, client = churning
    if key in NESTED_PARENTS:
        extract_resource(client, engine, NESTED_PARENTS[key])
    sandbox.controls.reset_request_log()
    ever = _ids(sandbox, key)

    first, churn = _run_under_churn(engine, sandbox, client, key, ever, full_refresh=False)
    assert first.mode == "complete" and churn.removed and churn.added
    second, churn = _run_under_churn(engine, sandbox, client, key, ever, full_refresh=False)
    if first.plan.method == "keyset":
        assert second.mode == "incremental"
    else:
        assert second.mode == "complete" and second.plan.complete_listing
        assert second.records >= len(_ids(sandbox, key)) - len(churn.added)
        assert churn.removed, "the incremental run's listing was churned too"

    final = extract_resource(client, engine, key, full_refresh=True)
    assert final.mode == "complete"
    active, _ = _landed(engine, key)
    assert active == _ids(sandbox, key)

    for entry in sandbox.controls.request_log():
        if entry["method"] != "GET":
            continue
        route = route_for(entry["path"])
        assert route is not None, entry["path"]
        assert route.accepts().ignored(parse_qsl(entry["query"])) == [], entry
