"""What the console's pages show, on the real database: the dashboard's counts and connection check, the
actions page (launching with the Dagster webserver stopped, live progress from pco_sync_log), a
person's sync page, and PCO text shown as text."""

from __future__ import annotations

import os
import stat

import pytest
import sqlalchemy as sa

from pco_pipeline.console.settings import (
    DAGSTER_URL_ENV, SECRET_FILE, SESSION_HOURS_ENV, SESSION_SECRET_ENV, ConsoleSettingsError, load_settings,
)
from pco_pipeline.sync.load_people import load_people
from pco_pipeline_tests.console.conftest import TEST_SECRET, form_token
from pco_pipeline_tests.sync.pco_docs import email, execute, land, local_person, person, scalar

SCRIPT = "<script>alert(1)</script>"


def _log_run(engine: sa.Engine, sync_type: str, status: str, **counts: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO pco_sync_log (run_id, sync_type, direction, status, created_count, failed_count,"
            " finished_at) VALUES (:run, :type, 'inbound', :status, :created, :failed,"
            " CASE WHEN :status = 'running' THEN NULL ELSE now() END)"),
            {"run": f"run-{sync_type}-{status}", "type": sync_type, "status": status,
             "created": counts.get("created", 0), "failed": counts.get("failed", 0)})


def test_pco_text_holding_html_is_shown_as_text_on_every_page(engine, admin):
    twin = local_person(engine, SCRIPT, "Lee", birthdate="1990-04-01", emails=["x@example.org"])
    local_person(engine, SCRIPT, "Lee", birthdate="1990-04-01")
    land(engine, "people/people", [person("7", SCRIPT, "Lee", birthdate="1990-04-01",
                                          emails=[email('"><img src=x onerror=alert(2)>@example.org')])])
    load_people(engine)
    quarantine_id = scalar(engine, "SELECT id FROM sync_quarantine WHERE entity = 'people'")
    for path in ("/quarantine", f"/quarantine/{quarantine_id}", f"/people/{twin}"):
        page = admin.get(path)
        assert page.status_code == 200, path
        assert SCRIPT not in page.text and "<img src=x" not in page.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text, path


def test_the_dashboard_counts_the_quarantine_backlog_and_runs_and_tests_the_connection(engine, admin, checks):
    local_person(engine, "Ann", "Lee", birthdate="1990-04-01")
    local_person(engine, "Ann", "Lee", birthdate="1990-04-01")
    land(engine, "people/people", [person("7", "Ann", "Lee", birthdate="1990-04-01")])
    load_people(engine)
    _log_run(engine, "people", "partial", created=3, failed=1)
    _log_run(engine, "people", "success", created=2)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO webhook_inbox (event_name, delivery_id, raw_body, received_at)"
            " VALUES ('people.v2.events.person.updated', 'd-1', '\\x7b7d', now() - interval '10 minutes')"))

    page = admin.get("/").text

    assert 'data-testid="quarantine-open">1<' in page
    assert 'data-testid="people-to-push">2<' in page       # the two Ann Lees, not in PCO
    assert 'data-testid="inbox-waiting">1<' in page and "10 min ago" in page
    assert page.count("run-people-") == 1 and "run-people-success" in page   # the last run of each job
    assert "Not checked since the console started" in page and checks == []

    tested = admin.post("/connection/test", data={"csrf_token": form_token(page)})

    assert tested.status_code == 303 and checks == ["checked"]
    after = admin.get("/").text
    assert "Grace Church" in after and "checked" in after and "by alice" in after


def test_launching_with_the_dagster_webserver_stopped_says_so_and_an_unknown_job_is_a_400(admin):
    token = form_token(admin.get("/actions").text)
    stopped = admin.post("/actions/launch", data={"csrf_token": token, "job": "push_people", "dry_run": "true"})
    assert stopped.status_code == 503
    assert "is not answering: start it with `make ui`" in stopped.text.replace("&#96;", "`")
    unknown = admin.post("/actions/launch", data={"csrf_token": token, "job": "drop_everything"})
    assert unknown.status_code == 400 and "there is no job" in unknown.text


def test_the_actions_page_polls_progress_from_the_sync_log_every_3_seconds(engine, viewer):
    page = viewer.get("/actions").text
    assert 'hx-get="/actions/progress" hx-trigger="every 3s"' in page
    assert "Nothing is running." in viewer.get("/actions/progress").text
    _log_run(engine, "families", "running", created=40)

    fragment = viewer.get("/actions/progress").text

    assert "Nothing is running." not in fragment and "families" in fragment and ">40<" in fragment
    assert "<html" not in fragment   # a fragment for htmx to swap in, not a page
    assert 'action="/actions/launch"' not in page   # a viewer gets no launch buttons


def test_a_persons_sync_page_shows_what_was_received_sent_and_held_newest_first(engine, admin):
    ann = local_person(engine, "Ann", "Lee", emails=["ann@example.org"])
    land(engine, "people/people", [person("7", "Ann", "Lee", emails=[email("ann@example.org", id="70")])])
    load_people(engine)
    execute(engine, "INSERT INTO pco_push_ledger (resource_type, action, local_table, local_key, sent, state)"
                    " VALUES ('Person', 'create', 'people', :k, '{\"first_name\": \"Ann\"}', 'sent')", k=str(ann))
    execute(engine, "INSERT INTO sync_quarantine (entity, direction, record_key, local_id, reason_code, reason)"
                    " VALUES ('push_people', 'outbound', :k, :i, 'invalid_data', 'birthdate in the future')",
            k=str(ann), i=ann)

    page = admin.get(f"/people/{ann}").text

    assert "people/people" in page and "people/emails" in page
    assert "Person (people" in page and '"first_name": "Ann"' in page
    assert "birthdate in the future" in page
    assert admin.get("/people/999999").status_code == 404


def test_settings_name_the_wrong_setting_and_keep_a_generated_secret_private(tmp_path):
    settings = load_settings({}, secret_dir=tmp_path)
    kept = tmp_path / SECRET_FILE
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert load_settings({}, secret_dir=tmp_path).session_secret == settings.session_secret
    assert settings.session_secret not in repr(settings)
    assert load_settings({SESSION_SECRET_ENV: TEST_SECRET}, secret_dir=tmp_path).session_secret == TEST_SECRET
    for environ, setting in (({SESSION_SECRET_ENV: "short"}, SESSION_SECRET_ENV),
                             ({SESSION_HOURS_ENV: "0"}, SESSION_HOURS_ENV),
                             ({DAGSTER_URL_ENV: "ftp://x"}, DAGSTER_URL_ENV)):
        with pytest.raises(ConsoleSettingsError, match=setting) as error:
            load_settings(environ, secret_dir=tmp_path)
        assert "short" not in str(error.value).replace(setting, "")


def test_an_invalid_record_shows_its_reason_in_plain_words_and_the_record_but_takes_no_decision(engine, admin):
    land(engine, "people/people", [person("1", "Ann", "Lee", birthdate="1990-02-30")])
    load_people(engine)
    quarantine_id = scalar(engine, "SELECT id FROM sync_quarantine WHERE entity = 'people'")

    page = admin.get(f"/quarantine/{quarantine_id}").text

    assert "birthdate &#39;1990-02-30&#39;" in page                       # the load's reason
    assert "Correct it in PCO; the next sync loads the record." in page   # what to do, in plain words
    assert '"first_name": "Ann"' in page                                  # the record as received
    assert "Link to this person" not in page and "Keep held" not in page
    version = scalar(engine, "SELECT md5(reason_code || reason || details::text || coalesce(record::text, ''))"
                             " FROM sync_quarantine WHERE id = :i", i=quarantine_id)
    refused = admin.post(f"/quarantine/{quarantine_id}/decision", data={
        "csrf_token": form_token(page), "decision": "create", "version": version})
    assert refused.status_code == 409 and "fixed at its source" in refused.text
