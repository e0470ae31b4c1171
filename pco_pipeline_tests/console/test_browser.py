"""The staff console in a real browser (Debian's Chromium driven by Playwright, as the Dagster UI test):
an admin signs in, sees the dashboard's counts, resolves a quarantined match, which the next
people load applies, and watches the Actions page's progress refresh by itself.

Set PCO_UPDATE_SCREENSHOT=1 to refresh docs/console-dashboard.png and docs/console-quarantine.png
(for the README) from this run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pco_pipeline.console.app import create_console_app
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.webhooks.server import BackgroundServer
from pco_pipeline_tests.browser.conftest import browser, chromium, page  # noqa: F401 (fixtures)
from pco_pipeline_tests.console.conftest import PASSWORD
from pco_pipeline_tests.sync.pco_docs import land, local_person, person, scalar

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def console_url(database_url, settings, users) -> Iterator[str]:
    with BackgroundServer(create_console_app(database_url, settings)) as server:
        yield server.url


def _screenshot(page, name: str) -> None:
    if os.environ.get("PCO_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(DOCS / name), full_page=True)


def test_an_admin_signs_in_sees_the_counts_and_links_a_quarantined_person(engine, console_url, page):
    first = local_person(engine, "Ann", SCRIPT, birthdate="1990-04-01", emails=["ann@example.org"])
    second = local_person(engine, "Ann", SCRIPT, birthdate="1990-04-01")
    land(engine, "people/people", [person("501", "Ann", SCRIPT, birthdate="1990-04-01")])
    load_people(engine)
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))

    page.goto(console_url + "/")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_selector("h1:text('Dashboard')")
    assert page.get_by_test_id("quarantine-open").inner_text() == "1"
    assert page.get_by_test_id("people-to-push").inner_text() == "2"
    _screenshot(page, "console-dashboard.png")

    page.get_by_role("link", name="review them").click()
    page.get_by_role("link", name="Decide").click()
    candidate = page.locator(f"section.candidate[data-person='{first}']")
    assert SCRIPT in page.locator("section.pco .name").inner_text()   # shown as text, never run
    assert "ann@example.org" in candidate.inner_text()
    _screenshot(page, "console-quarantine.png")
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
