"""`pco-pipeline webhooks subscribe` and `status`, and `serve` accepting the stored secrets."""

import sqlalchemy as sa

from pco_pipeline.cli import main
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_pipeline.sync.webhook_events import SUBSCRIBED_EVENTS
from pco_pipeline.webhooks.server import bind_socket
from pco_pipeline_tests.webhooks.test_serve import ServeProcess
from pco_pipeline_tests.webhooks_e2e.conftest import inbox_rows, wait_for_deliveries


def use_sandbox(monkeypatch, database_url: str, sandbox_url: str) -> None:
    for name in ("DAGSTER_PG_URL", "PCO_WEBHOOK_SECRETS", "PCO_OAUTH_CLIENT_ID", "PCO_OAUTH_CLIENT_SECRET",
                 "PCO_OAUTH_REFRESH_TOKEN", "PCO_OAUTH_ACCESS_TOKEN", "PCO_OAUTH_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("PCO_API_BASE", sandbox_url)
    monkeypatch.setenv("PCO_APP_ID", DEMO_APP_ID)
    monkeypatch.setenv("PCO_SECRET", DEMO_SECRET)


def test_subscribe_creates_every_subscription_once_stores_secrets_and_never_prints_them(
        sandbox, sandbox_url, database_url, engine, monkeypatch, capsys):
    use_sandbox(monkeypatch, database_url, sandbox_url)
    url = "https://church.example.org/api/pco/webhook"
    assert main(["webhooks", "subscribe", "--url", url]) == 0
    first = capsys.readouterr().out
    remote = {s.attributes["name"]: s for s in sandbox.store.all("webhooks/subscriptions")}
    assert set(remote) == set(SUBSCRIBED_EVENTS)
    assert all(s.attributes["url"] == url and s.attributes["active"] for s in remote.values())
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT event_name, authenticity_secret FROM webhook_subscriptions")).all())
    assert stored == {name: s.attributes["authenticity_secret"] for name, s in remote.items()}
    assert first.count(" created") == len(SUBSCRIBED_EVENTS)
    assert not any(secret in first for secret in stored.values())

    # Paused in PCO meanwhile: a second run re-activates it and creates nothing.
    paused = remote["people.v2.events.email.updated"]
    sandbox.webhooks.update_from_api(paused, {"attributes": {"active": False}})
    assert main(["webhooks", "subscribe", "--url", url]) == 0
    second = capsys.readouterr().out
    assert sandbox.store.count("webhooks/subscriptions") == len(SUBSCRIBED_EVENTS)
    assert "re-activated" in second and second.count("already active") == len(SUBSCRIBED_EVENTS) - 1
    assert sandbox.store.get("webhooks/subscriptions", paused.id).attributes["active"] is True

    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO webhook_inbox (event_name, delivery_id, raw_body, status)"
                             " VALUES ('people.v2.events.person.updated', 'a', '{}', 'pending'),"
                             "        ('people.v2.events.person.updated', 'b', '{}', 'applied')"))
    monkeypatch.setenv("PCO_WEBHOOK_SECRETS", "one-from-the-environment")
    assert main(["webhooks", "status", "--remote"]) == 0
    status = capsys.readouterr().out
    assert f"{len(SUBSCRIBED_EVENTS)} of {len(SUBSCRIBED_EVENTS)} events" in status
    assert status.count("secret stored") == len(SUBSCRIBED_EVENTS) and "(PCO: active)" in status
    assert f"webhook secrets: {len(SUBSCRIBED_EVENTS)} stored, 1 in PCO_WEBHOOK_SECRETS" in status
    assert "pending 1" in status and "applied 1" in status and "waiting: 1 (due now 1)" in status
    assert not any(secret in status for secret in [*stored.values(), "one-from-the-environment"])


def test_subscribe_refuses_a_url_that_is_not_http(monkeypatch, database_url, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["webhooks", "subscribe", "--url", "church.example.org/hook"]) == 2
    assert "--url must be an http(s) URL" in capsys.readouterr().err


def test_serve_accepts_deliveries_signed_with_the_stored_secrets(
        sandbox, sandbox_url, database_url, engine, monkeypatch, capsys, tmp_path):
    use_sandbox(monkeypatch, database_url, sandbox_url)
    with bind_socket("127.0.0.1", 0) as free:
        port = free.getsockname()[1]
    assert main(["webhooks", "subscribe", "--url", f"http://127.0.0.1:{port}/api/pco/webhook"]) == 0
    serve = ServeProcess(database_url, tmp_path, port=port, extra_env={"PCO_WEBHOOK_SECRETS": ""})
    try:
        serve.wait_until_listening()
        person = sandbox.store.all("people/people")[0]
        sandbox.controls.update_record("people/people", person.id, {"nickname": "Stored-Secret"})
        wait_for_deliveries(sandbox)
    finally:
        serve.stop()
    assert f"{len(SUBSCRIBED_EVENTS)} configured" in serve.output()
    assert [(r.event_name, r.resource_id) for r in inbox_rows(engine)] == [
        ("people.v2.events.person.updated", person.id)]
