"""The staff console in a real browser (Debian's Chromium driven by Playwright, as the Dagster UI test):
an admin signs in, sees the dashboard's counts, resolves a quarantined match, which the next
people load applies, and watches the Actions page's progress refresh by itself. With the whole
stack running (the sandbox church as PCO, `dg dev`), staff launch a sync from the console, follow
it to the Dagster UI, decide conflicts and launch the push that takes the decisions to PCO: that
test is browser/test_console_with_dagster.py, sharing the browser package's `dg dev`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pco_pipeline.console.app import create_console_app
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.webhooks.server import BackgroundServer
from pco_pipeline_tests.browser.conftest import browser, chromium, page  # noqa: F401 (fixtures)
from pco_pipeline_tests.console.conftest import PASSWORD
from pco_pipeline_tests.sync.pco_docs import land, local_person, person, scalar

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def console_url(database_url, settings, users) -> Iterator[str]:
    with BackgroundServer(create_console_app(database_url, settings)) as server:
        yield server.url


def sign_in_page(page, console_url: str, name: str = "alice", path: str = "/", heading: str = "Dashboard") -> None:
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
    sign_in_page(page, console_url, "victor", "/conflicts", "Conflicts")
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

    sign_in_page(page, console_url)
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
