"""Launching from the console through a running Dagster webserver (`dg dev` on its own instance, the
sandbox church as PCO): the run is the same job the Dagster UI runs, it succeeds, its pco_sync_log row
carries its run id, and the console's progress and run history show it with a link to the Dagster UI.

Marked slow (it starts the Dagster UI); it needs no browser.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from starlette.testclient import TestClient

from pco_pipeline.console.app import create_console_app
from pco_pipeline_tests.browser.conftest import dagster_log, dagster_ui, sandbox_url  # noqa: F401 (fixtures)
from pco_pipeline_tests.console.conftest import form_token, signed_in
from pco_pipeline_tests.sandbox_fixtures import church, sandbox  # noqa: F401 (fixtures)
from pco_pipeline_tests.sync.pco_docs import scalar

pytestmark = [pytest.mark.slow]
RUN_SECONDS = 180

RUN_STATUS = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status jobName tags { key value } } } }"


def _run(ui: str, run_id: str) -> dict:
    answer = httpx.post(f"{ui}/graphql", json={"query": RUN_STATUS, "variables": {"id": run_id}}, timeout=30)
    return answer.json()["data"]["runOrError"]


def test_a_sync_launched_from_the_console_runs_in_dagster_and_its_progress_shows(
        engine, database_url, settings, users, dagster_ui, dagster_log, church):
    app = create_console_app(database_url, replace(settings, dagster_url=dagster_ui))
    admin: TestClient = signed_in(app, users["admin"])
    launched = admin.post("/actions/launch", data={"csrf_token": form_token(admin.get("/actions").text),
                                                   "job": "sync_people"})
    assert launched.status_code == 303, launched.text
    run_id = parse_qs(urlparse(launched.headers["location"]).query)["launched"][0]
    page = admin.get(launched.headers["location"]).text
    assert f'href="{dagster_ui}/runs/{run_id}"' in page

    deadline = time.monotonic() + RUN_SECONDS
    run = _run(dagster_ui, run_id)
    while run["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}:\n{dagster_log()}"
        time.sleep(1)
        run = _run(dagster_ui, run_id)

    assert run["status"] == "SUCCESS", dagster_log()
    assert run["jobName"] == "sync_people"
    assert {"key": "pco/launched_by", "value": "console:alice"} in run["tags"]
    assert scalar(engine, "SELECT status FROM pco_sync_log WHERE run_id = :r", r=run_id) in ("success", "partial")
    history = admin.get("/actions/progress").text
    assert re.search(rf'href="{re.escape(dagster_ui)}/runs/{run_id}"', history)
    assert "Nothing is running." in history
