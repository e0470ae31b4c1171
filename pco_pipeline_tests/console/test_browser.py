"""The staff console in a real browser (Debian's Chromium driven by Playwright, as the Dagster UI test):
an admin signs in, sees the dashboard's counts, resolves a quarantined match, which the next
people load applies, and watches the Actions page's progress refresh by itself; then, with the
whole stack running (the sandbox church as PCO, `dg dev`), launches a sync from the console, follows
it to the Dagster UI, decides conflicts and launches the push that takes the decisions to PCO.

Set PCO_UPDATE_SCREENSHOT=1 to refresh docs/console-dashboard.png, docs/console-quarantine.png and
docs/console-conflicts.png (for the README) from this run (the seeded church's own data).
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from pco_pipeline.console.app import create_console_app
from pco_pipeline.defs.outbound.church_changes import INTERVAL_ENV as OUTBOX_INTERVAL_SETTING
from pco_pipeline.pco.connection import check_connection
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.policies import POLICIES_SETTING
from pco_pipeline.webhooks.server import BackgroundServer
from pco_pipeline_tests.browser.conftest import (  # noqa: F401 (fixtures)
    browser, chromium, dagster_log, dagster_ui, page, sandbox_url,
)
from pco_pipeline_tests.console.conftest import PASSWORD
from pco_pipeline_tests.sandbox_fixtures import church, instance, pco, resources, run_job, sandbox  # noqa: F401
from pco_pipeline_tests.sync.pco_docs import land, local_person, person, rows, scalar
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_sandbox.core import Sandbox

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCRIPT = "<script>alert(1)</script>"
RUN_SECONDS = 180
RUN_STATUS = "query ($id: ID!) { runOrError(runId: $id) { ... on Run { status jobName tags { key value } } } }"


@pytest.fixture
def console_url(database_url, settings, users) -> Iterator[str]:
    with BackgroundServer(create_console_app(database_url, settings)) as server:
        yield server.url


def _screenshot(page, name: str) -> None:
    if os.environ.get("PCO_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(DOCS / name), full_page=True)


def _sign_in(page, console_url: str, name: str = "alice", path: str = "/", heading: str = "Dashboard") -> None:
    """Open `path` signed out, sign in as `name` on the form it leads to, and land back on `path`."""
    page.goto(console_url + path)
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(f"h1:text('{heading}')")


# A POST from the page's own script, as a crafted form would send it; `token` "" leaves the CSRF token out.
POST_FROM_PAGE = """async ([path, token]) => {
  const body = new URLSearchParams({job: "sync_people"});
  if (token) body.set("csrf_token", token);
  const response = await fetch(path, {method: "POST", body, redirect: "manual"});
  return [response.status, await response.text()];
}"""


def test_in_the_browser_a_visitor_signs_in_first_a_viewer_cannot_act_and_signing_out_ends_it(console_url, page):
    page.goto(console_url + "/conflicts")
    assert "/login?next=" in page.url
    _sign_in(page, console_url, "victor", "/conflicts", "Conflicts")
    assert page.url == console_url + "/conflicts"
    assert "pco_console_session" not in page.evaluate("document.cookie")   # HttpOnly: no script reads it

    page.get_by_role("link", name="Actions").click()
    assert page.get_by_role("button", name="Run", exact=True).count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    status, text = page.evaluate(POST_FROM_PAGE, ["/actions/launch", token])
    assert status == 403 and "needs admin" in text
    status, text = page.evaluate(POST_FROM_PAGE, ["/actions/launch", ""])
    assert status == 403 and "CSRF" in text

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in").wait_for()
    page.goto(console_url + "/actions")
    assert "/login?next=" in page.url


def test_an_admin_signs_in_sees_the_counts_and_links_a_quarantined_person(engine, console_url, page):
    first = local_person(engine, "Ann", SCRIPT, birthdate="1990-04-01", emails=["ann@example.org"])
    second = local_person(engine, "Ann", SCRIPT, birthdate="1990-04-01")
    land(engine, "people/people", [person("501", "Ann", SCRIPT, birthdate="1990-04-01")])
    load_people(engine)
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))

    _sign_in(page, console_url)
    assert page.get_by_test_id("quarantine-open").inner_text() == "1"
    assert page.get_by_test_id("people-to-push").inner_text() == "2"

    page.get_by_role("link", name="review them").click()
    page.get_by_role("link", name="Decide").click()
    candidate = page.locator(f"section.candidate[data-person='{first}']")
    assert SCRIPT in page.locator("section.pco .name").inner_text()   # shown as text, never run
    assert "ann@example.org" in candidate.inner_text()
    candidate.get_by_role("button", name="Link to this person").click()

    page.wait_for_selector("text=Decision recorded")
    assert f"link church person {first}" in page.get_by_test_id("current-decision").inner_text()
    assert alerts == []
    assert load_people(engine).matches.by_staff == 1
    assert scalar(engine, "SELECT pco_id FROM people WHERE id = :i", i=first) == "501"
    assert scalar(engine, "SELECT pco_id FROM people WHERE id = :i", i=second) is None

    # The Actions page refreshes its progress from pco_sync_log every 3 s (htmx), without a reload.
    page.get_by_role("link", name="Actions").click()
    page.wait_for_selector("text=Nothing is running.")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO pco_sync_log (sync_type, direction, created_count)"
                             " VALUES ('families', 'inbound', 17)"))
    page.locator("#progress td", has_text="families").first.wait_for(timeout=10_000)
    assert page.get_by_text("Nothing is running.").count() == 0


@pytest.fixture
def dagster_env(tmp_path: Path) -> dict[str, str]:
    """`dg dev`'s settings here: the church's policy file holds a last name changed on both sides for
    a person; the church-changes sensor ticks hourly, so the church's edits wait for the sync that
    finds the conflict (ticking every 15 s, it would push them first)."""
    policies = tmp_path / "sync_policies.toml"
    policies.write_text('[people]\nlast_name = "manual"\n', encoding="utf-8")
    return {POLICIES_SETTING: str(policies), OUTBOX_INTERVAL_SETTING: "3600"}


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
        engine, database_url, settings, users, sandbox: Sandbox, sandbox_url, dagster_ui, dagster_log, church,
        run_job, dagster_env, monkeypatch, page):
    check = functools.partial(check_connection, {"PCO_API_BASE": sandbox_url, "PCO_APP_ID": DEMO_APP_ID,
                                                  "PCO_SECRET": DEMO_SECRET})
    app = create_console_app(database_url, replace(settings, dagster_url=dagster_ui), check=check)
    with BackgroundServer(app) as console:
        _sign_in(page, console.url)

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
        monkeypatch.setenv(POLICIES_SETTING, dagster_env[POLICIES_SETTING])
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
