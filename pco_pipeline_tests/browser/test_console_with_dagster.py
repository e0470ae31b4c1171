"""The staff console with the whole stack running (the sandbox church as PCO, `dg dev`), in a real
browser: staff launch a sync from the console, follow it to the Dagster UI, decide conflicts and
launch the push that takes the decisions to PCO. The console's pages on their own are tested in
console/test_browser.py; `dg dev` is this package's shared one (`dagster_stack`: the policy file
that holds a last name changed on both sides for staff, the church-changes sensor hourly).

Set PCO_UPDATE_SCREENSHOT=1 to refresh docs/console-dashboard.png, docs/console-quarantine.png and
docs/console-conflicts.png (for the README) from this run (the seeded church's own data).
"""

from __future__ import annotations

import functools
import os
import re
import time
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from pco_pipeline.console.app import create_console_app
from pco_pipeline.pco.connection import check_connection
from pco_pipeline.sync.policies import POLICIES_SETTING
from pco_pipeline.webhooks.server import BackgroundServer
from pco_pipeline_tests.browser.conftest import DagsterStack
from pco_pipeline_tests.console.conftest import settings, users  # noqa: F401 (fixtures)
from pco_pipeline_tests.console.test_browser import sign_in_page
from pco_pipeline_tests.sandbox_fixtures import instance, pco, resources, run_job  # noqa: F401 (fixtures)
from pco_pipeline_tests.sync.pco_docs import rows, scalar
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_sandbox.core import Sandbox

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUN_SECONDS = 180
RUN_STATUS = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status jobName tags { key value } } } }"


def _screenshot(page, name: str) -> None:
    if os.environ.get("PCO_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(DOCS / name), full_page=True)


def _launch(page, console_url: str, job: str) -> str:
    """Launch `job` from the Actions page; returns the run id the page links to the Dagster UI."""
    page.goto(console_url + "/actions")
    row = page.locator("table.jobs tr", has=page.locator("code", has_text=re.compile(rf"^{job}$")))
    row.get_by_role("button", name="Run", exact=True).click()
    launched = page.get_by_role("status").get_by_role("link")
    launched.wait_for()
    return launched.inner_text()


def _dagster_run(dagster_ui: str, run_id: str) -> dict:
    answer = httpx.post(f"{dagster_ui}/graphql", json={"query": RUN_STATUS, "variables": {"id": run_id}}, timeout=30)
    return answer.json()["data"]["runOrError"]


def _finished(page, dagster_ui: str, run_id: str, dagster_log):
    """Run `run_id`'s row in the Actions page's progress once Dagster says the run succeeded; the
    row changed while the page stayed open (htmx refreshes it from pco_sync_log every 3 s)."""
    row = f"#progress tr:has(a[href$='/runs/{run_id}'])"
    page.evaluate("window.notReloaded = true")
    shown_at_launch = [td.inner_text() for td in page.locator(f"{row} td.status").all()]
    deadline = time.monotonic() + RUN_SECONDS
    while (run := _dagster_run(dagster_ui, run_id))["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
        assert time.monotonic() < deadline, f"run {run_id} still {run['status']}:\n{dagster_log()}"
        time.sleep(1)
    assert run["status"] == "SUCCESS", f"run {run_id} ended {run['status']}:\n{dagster_log()}"
    finished = page.locator(f"{row}:not(.status-running)").first
    finished.wait_for(timeout=10_000)
    assert shown_at_launch in ([], ["running"], ["running", "running"])
    assert page.evaluate("window.notReloaded === true")
    return finished


def _conflict_row(page, pco_id: str):
    return page.locator("tr[data-conflict]", has=page.locator("small", has_text=re.compile(rf"^PCO {pco_id}$")))


def test_staff_launch_a_sync_see_it_in_dagster_decide_conflicts_and_the_push_takes_them_to_pco(
        engine, database_url, settings, users, sandbox: Sandbox, sandbox_url, dagster_stack: DagsterStack, church,
        run_job, monkeypatch, page):
    dagster_ui, dagster_log = dagster_stack.url, dagster_stack.log_tail
    check = functools.partial(check_connection, {"PCO_API_BASE": sandbox_url, "PCO_APP_ID": DEMO_APP_ID,
                                                  "PCO_SECRET": DEMO_SECRET})
    app = create_console_app(database_url, replace(settings, dagster_url=dagster_ui), check=check)
    with BackgroundServer(app) as console:
        sign_in_page(page, console.url)

        # 1. A sync launched from the console: its progress refreshes by itself, and it is a Dagster run.
        run_id = _launch(page, console.url, "sync_people")
        synced = _finished(page, dagster_ui, run_id, dagster_log)
        assert synced.locator("td").first.inner_text() == "people"
        assert int(synced.locator("td").nth(5).inner_text()) > 0   # people created from PCO
        assert synced.locator("td.status").inner_text() in ("success", "partial"), dagster_log()
        with page.context.expect_page() as opened:
            synced.get_by_role("link", name="Dagster").click()
        dagster_page = opened.value
        dagster_page.add_locator_handler(dagster_page.get_by_role("button", name="Skip"), lambda skip: skip.click())
        dagster_page.get_by_text("sync_people").first.wait_for(timeout=60_000)
        dagster_page.get_by_text(re.compile(r"^Success$")).first.wait_for(timeout=60_000)
        assert run_id in dagster_page.url
        dagster_page.close()
        run = _dagster_run(dagster_ui, run_id)
        assert (run["jobName"], run["status"]) == ("sync_people", "SUCCESS")
        assert {"key": "pco/launched_by", "value": "console:alice"} in run["tags"]

        # 2. Three linked people's last names changed on both sides; the next sync (in-process, as
        #    quicker) holds them for staff, as the church's policy file says.
        linked = rows(engine, "SELECT id, pco_id, last_name FROM people WHERE pco_id IS NOT NULL"
                              " AND merged_into_id IS NULL ORDER BY id LIMIT 3")
        sandbox.clock.advance(2)
        for local_id, pco_id, last_name in linked:
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE people SET last_name = :v WHERE id = :i"),
                             {"v": f"{last_name}-Okafor", "i": local_id})
            sandbox.controls.update_record("people/people", pco_id, {"last_name": "Okafor"})
        monkeypatch.setenv(POLICIES_SETTING, dagster_stack.settings[POLICIES_SETTING])
        assert run_job("sync_people").success

        # The dashboard counts the conflicts; the pictures for the README.
        page.get_by_role("link", name="Dashboard").click()
        page.get_by_role("button", name="Test connection").click()
        assert page.get_by_test_id("connection-status").inner_text().startswith("OK")
        assert page.get_by_test_id("conflicts-open").inner_text() == "3", rows(engine, "SELECT * FROM sync_conflicts")
        quarantined = int(page.get_by_test_id("quarantine-open").inner_text())
        _screenshot(page, "console-dashboard.png")

        page.get_by_role("link", name="review them").click()
        assert page.locator("table.quarantine tbody tr").count() == quarantined
        # The picture: an ambiguous match staff can link (else the first, else the list).
        reviews = [console.url + href for href in page.get_by_role("link", name="Decide").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))")]
        for review in reviews:
            page.goto(review)
            if page.get_by_role("button", name="Link to this person").count():
                break
        else:
            page.goto(reviews[0] if reviews else console.url + "/quarantine")
        _screenshot(page, "console-quarantine.png")

        # 3. Keep the church's name for one, enter a value for another, leave the third waiting.
        page.goto(console.url + "/")
        page.get_by_role("link", name="decide them").click()
        (_, kept_pco, kept_name), (_, entered_pco, _), (waiting_id, waiting_pco, waiting_name) = linked
        assert _conflict_row(page, waiting_pco).get_by_role("cell").nth(4).inner_text() == '"Okafor"'
        _screenshot(page, "console-conflicts.png")
        _conflict_row(page, kept_pco).get_by_role("button", name="Keep church").click()
        page.get_by_text("1 decided").wait_for()
        entered = _conflict_row(page, entered_pco)
        entered.get_by_role("textbox").fill("Okafor-Lee")
        entered.get_by_role("button", name="Enter a value").click()
        page.get_by_text("1 decided").wait_for()

        # 4. The push, launched from the console as the real job, takes both decisions to PCO.
        pushed = _finished(page, dagster_ui, _launch(page, console.url, "push_people"), dagster_log)
        assert pushed.locator("td.status").inner_text() in ("success", "partial"), dagster_log()

    def pco_last_name(pco_id: str) -> str:
        record = sandbox.store.get("people/people", pco_id)
        assert record is not None
        return record.attributes["last_name"]

    assert pco_last_name(kept_pco) == f"{kept_name}-Okafor"
    assert pco_last_name(entered_pco) == "Okafor-Lee"
    assert pco_last_name(waiting_pco) == "Okafor"   # still waiting: neither side changed
    assert scalar(engine, "SELECT last_name FROM people WHERE id = :i", i=waiting_id) == f"{waiting_name}-Okafor"
    assert scalar(engine, "SELECT applied_at IS NOT NULL FROM sync_conflicts WHERE pco_id = :p", p=kept_pco)
