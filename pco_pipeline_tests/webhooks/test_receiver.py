"""POST /api/pco/webhook over real HTTP on loopback, against a real PostgreSQL inbox."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import sqlalchemy as sa

from pco_pipeline.webhooks import app as app_module
from pco_pipeline.webhooks import receiver as receiver_module
from pco_pipeline.webhooks.app import create_app
from pco_pipeline.webhooks.authenticity import SIGNATURE_HEADER, sign
from pco_pipeline.webhooks.server import BackgroundServer
from pco_pipeline.webhooks.settings import ReceiverSettings
from pco_pipeline_tests.webhooks.conftest import (
    SECRETS, delivery_document, encode, post_delivery, signed_headers,
)


def inbox_rows(engine: sa.Engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(sa.text("SELECT * FROM webhook_inbox ORDER BY id"))]


def test_valid_delivery_is_stored_with_every_column(client, engine):
    document = delivery_document(delivery_id="5a1d7e1c-8f3e-4c5b-9a0b-2f6e7d8c9b0a", attempt=2,
                                 idempotency_token="tok-1", event_time="2025-03-02T15:04:05Z",
                                 resource_type="Person", resource_id="128945")
    # PCO's own formatting: the stored bytes must be these, not a re-serialization.
    body = json.dumps(document, indent=2).encode()
    before = datetime.now(timezone.utc)

    response = post_delivery(client, body)

    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 1, "duplicates": 0}
    [row] = inbox_rows(engine)
    assert row["event_name"] == "people.v2.events.person.updated"
    assert row["delivery_id"] == "5a1d7e1c-8f3e-4c5b-9a0b-2f6e7d8c9b0a"
    assert row["attempt"] == 2
    assert row["idempotency_token"] == "tok-1"
    assert row["event_time"] == datetime(2025, 3, 2, 15, 4, 5, tzinfo=timezone.utc)
    assert (row["resource_type"], row["resource_id"]) == ("Person", "128945")
    assert bytes(row["raw_body"]) == body
    assert before - timedelta(seconds=5) <= row["received_at"] <= datetime.now(timezone.utc) + timedelta(seconds=5)
    assert (row["status"], row["tries"]) == ("pending", 0)
    assert row["status_reason"] is row["next_try_at"] is row["processed_at"] is None


def test_destroyed_event_without_token_or_event_time_is_stored(client, engine):
    document = delivery_document(event="people.v2.events.person.destroyed", idempotency_token=None,
                                 event_time=None, resource_id="77")
    response = post_delivery(client, encode(document))
    assert response.status_code == 200, response.text
    [row] = inbox_rows(engine)
    assert row["idempotency_token"] is None and row["event_time"] is None
    assert (row["event_name"], row["resource_id"]) == ("people.v2.events.person.destroyed", "77")


@pytest.mark.parametrize("secret", SECRETS)
def test_each_subscription_secret_is_accepted(client, engine, secret):
    document = delivery_document()
    response = post_delivery(client, encode(document), secret=secret)
    assert response.status_code == 200, response.text
    assert [row["delivery_id"] for row in inbox_rows(engine)] == [document["data"][0]["id"]]


def test_secrets_from_the_environment_and_from_the_caller_are_both_accepted(database_url, engine):
    settings = ReceiverSettings.from_env({"PCO_WEBHOOK_SECRETS": " env-one , env-two "},
                                         extra_secrets=["given-in-code"])
    with BackgroundServer(create_app(database_url, settings)) as server, \
            httpx.Client(base_url=server.url) as client:
        for secret in ("env-one", "env-two", "given-in-code"):
            assert post_delivery(client, encode(delivery_document()), secret=secret).status_code == 200
        assert post_delivery(client, encode(delivery_document()), secret="env-one , env-two").status_code == 401
    assert len(inbox_rows(engine)) == 3


@pytest.mark.parametrize("case", ["missing", "unknown secret", "other body", "truncated", "uppercase", "empty"])
def test_bad_or_missing_signature_is_401_and_stores_nothing(client, engine, case):
    body = encode(delivery_document())
    signature = {
        "missing": None,
        "unknown secret": sign(body, "not-a-configured-secret"),
        "other body": sign(encode(delivery_document()), SECRETS[0]),
        "truncated": sign(body, SECRETS[0])[:-2],
        "uppercase": sign(body, SECRETS[0]).upper(),  # PCO sends lowercase hex
        "empty": "",
    }[case]
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    response = client.post("/api/pco/webhook", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["errors"][0]["status"] == "401"
    assert inbox_rows(engine) == []


def test_signature_over_reserialized_json_is_refused(client, engine):
    body = json.dumps(delivery_document(), indent=1).encode()
    reserialized = json.dumps(json.loads(body), separators=(",", ":")).encode()
    assert reserialized != body
    response = client.post("/api/pco/webhook", content=body,
                           headers={SIGNATURE_HEADER: sign(reserialized, SECRETS[0])})
    assert response.status_code == 401
    assert inbox_rows(engine) == []


def test_no_configured_secret_refuses_everything(database_url, engine):
    with BackgroundServer(create_app(database_url, ReceiverSettings())) as server, \
            httpx.Client(base_url=server.url) as client:
        body = encode(delivery_document())
        assert post_delivery(client, body, secret="").status_code == 401
        assert post_delivery(client, body, secret=SECRETS[0]).status_code == 401
    assert inbox_rows(engine) == []


def _store_subscription(engine, secret):
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO webhook_subscriptions (pco_id, event_name, url, active, authenticity_secret)"
                             " VALUES (:id, 'people.v2.events.person.updated', 'https://x/api/pco/webhook', true, :s)"),
                     {"id": str(uuid.uuid4()), "s": secret})


def test_a_subscription_made_while_the_receiver_runs_is_accepted_without_a_restart(
        database_url, engine, monkeypatch):
    reads = []
    real = app_module.stored_secrets
    monkeypatch.setattr(app_module, "stored_secrets", lambda e: reads.append(1) or real(e))
    with BackgroundServer(create_app(database_url, ReceiverSettings())) as server, \
            httpx.Client(base_url=server.url) as client:
        assert post_delivery(client, encode(delivery_document()), secret="made-later").status_code == 401
        _store_subscription(engine, "made-later")  # `webhooks subscribe` run beside the receiver
        # forged deliveries cannot make it read the database on every request
        assert post_delivery(client, encode(delivery_document()), secret="made-later").status_code == 401
        assert post_delivery(client, encode(delivery_document()), secret="forged").status_code == 401
        assert len(reads) == 1
        monkeypatch.setattr(receiver_module, "RELOAD_SECONDS", 0.0)  # as if the interval had passed
        assert post_delivery(client, encode(delivery_document()), secret="made-later").status_code == 200
        assert post_delivery(client, encode(delivery_document()), secret="made-later").status_code == 200
        assert len(reads) == 2  # known from then on: no more reads
    assert len(inbox_rows(engine)) == 2


def _delivery_of_exact_size(size: int) -> bytes:
    body = encode(delivery_document(attributes={"pad": ""}))
    padded = encode(delivery_document(attributes={"pad": "x" * (size - len(body))}))
    # The payload is a JSON string inside JSON: each pad character costs one byte either way.
    assert len(padded) == size
    return padded


def test_body_at_the_limit_is_stored_and_one_byte_more_is_413(database_url, engine):
    settings = ReceiverSettings(secrets=SECRETS, max_body_bytes=4096)
    with BackgroundServer(create_app(database_url, settings)) as server, \
            httpx.Client(base_url=server.url) as client:
        assert post_delivery(client, _delivery_of_exact_size(4096)).status_code == 200
        response = post_delivery(client, _delivery_of_exact_size(4097))
        assert response.status_code == 413
        assert "4096-byte limit" in response.json()["errors"][0]["detail"]
    assert len(inbox_rows(engine)) == 1


def test_oversized_body_is_413_with_the_default_limit(client, engine):
    body = _delivery_of_exact_size(256 * 1024 + 1)
    response = post_delivery(client, body)
    assert response.status_code == 413
    assert inbox_rows(engine) == []


def test_oversized_chunked_body_without_length_is_413(client, engine):
    body = _delivery_of_exact_size(300 * 1024)

    def chunks():
        for start in range(0, len(body), 16 * 1024):
            yield body[start:start + 16 * 1024]

    response = client.post("/api/pco/webhook", content=chunks(), headers=signed_headers(body))
    assert response.status_code == 413
    assert inbox_rows(engine) == []


def test_signed_chunked_body_within_the_limit_is_stored(client, engine):
    body = encode(delivery_document())
    response = client.post("/api/pco/webhook", content=iter([body[:100], body[100:]]),
                           headers=signed_headers(body))
    assert response.status_code == 200
    assert len(inbox_rows(engine)) == 1


def _payload_as_object() -> bytes:
    document = delivery_document()
    attributes = document["data"][0]["attributes"]
    attributes["payload"] = json.loads(attributes["payload"])
    return encode(document)


def _with(path: str, value) -> bytes:
    document = delivery_document()
    target = document["data"][0]
    *parents, last = path.split(".")
    for key in parents:
        target = target[key]
    target[last] = value
    return encode(document)


@pytest.mark.parametrize("body, reason", [
    (b"not json at all", "the body is not JSON"),
    (b"\xff\xfe\x00garbage", "the body is not JSON"),
    (b"[1, 2, 3]", "top-level `data`"),
    (b'{"data": []}', "`data` must be an EventDelivery object or a non-empty list"),
    (b'{"data": [{"type": "Person", "id": "1", "attributes": {}}]}', 'data[0].type must be "EventDelivery"'),
    (_payload_as_object(), "data[0].attributes.payload must be a JSON string, got an object"),
    (_with("attributes.payload", "{not json"), "data[0].attributes.payload is not valid JSON"),
    (_with("attributes.payload", "[]"), "must encode a JSON:API document"),
    (_with("attributes.name", ""), "data[0].attributes.name must be a non-empty string"),
    (_with("attributes.attempt", "two"), "data[0].attributes.attempt must be a positive integer"),
    (_with("id", None), "data[0].id must be a non-empty string"),
    (_with("id", "x" * 256), "data[0].id is longer than 255 characters"),
    (encode(delivery_document(event_time="last tuesday")), "meta.event_time is not an ISO 8601 timestamp"),
])
def test_an_authentic_body_that_is_not_an_event_delivery_is_kept_as_rejected_with_the_reason(
        client, engine, body, reason):
    # 200, not 4xx: PCO would resend the same body for days, and it could never be used.
    response = post_delivery(client, body)
    assert response.status_code == 200, response.text
    rejected = response.json()["rejected"]
    assert rejected.startswith("not an EventDelivery: ") and reason in rejected
    assert inbox_rows(engine) == []
    with engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT reason, raw_body FROM webhook_rejections")).all()
    assert [(reason, bytes(raw_body)) for reason, raw_body in kept] == [(rejected, body)]


def test_single_object_data_and_header_attempt_are_accepted(client, engine):
    document = delivery_document()
    item = document["data"][0]
    del item["attributes"]["attempt"]
    body = encode({"data": item})
    response = post_delivery(client, body, headers={"X-PCO-Webhooks-Attempt": "3",
                                                    "X-PCO-Webhooks-Event": "header-id-is-not-used"})
    assert response.status_code == 200, response.text
    [row] = inbox_rows(engine)
    assert (row["delivery_id"], row["attempt"]) == (item["id"], 3)


def test_several_deliveries_in_one_body_are_each_stored(client, engine):
    first, second = delivery_document()["data"][0], delivery_document()["data"][0]
    body = encode({"data": [first, second]})
    response = post_delivery(client, body)
    assert response.json() == {"stored": 2, "duplicates": 0}
    assert {row["delivery_id"] for row in inbox_rows(engine)} == {first["id"], second["id"]}


def test_duplicate_delivery_id_is_200_and_stored_once(client, engine):
    document = delivery_document(attempt=1)
    assert post_delivery(client, encode(document)).json() == {"stored": 1, "duplicates": 0}
    document["data"][0]["attributes"]["attempt"] = 2  # PCO's retry of the same delivery
    second = post_delivery(client, encode(document))
    assert second.status_code == 200
    assert second.json() == {"stored": 0, "duplicates": 1}
    [row] = inbox_rows(engine)
    assert row["attempt"] == 1


def test_duplicate_idempotency_token_under_a_new_delivery_id_is_stored_once(client, engine):
    first = delivery_document(idempotency_token="same-event")
    redelivered = delivery_document(idempotency_token="same-event")
    assert post_delivery(client, encode(first)).status_code == 200
    response = post_delivery(client, encode(redelivered))
    assert response.status_code == 200
    assert response.json() == {"stored": 0, "duplicates": 1}
    assert [row["delivery_id"] for row in inbox_rows(engine)] == [first["data"][0]["id"]]


@pytest.mark.parametrize("same", ["delivery id", "idempotency token"])
def test_concurrent_duplicates_are_stored_once(client, server, engine, same):
    token = uuid.uuid4().hex
    delivery_id = str(uuid.uuid4())
    bodies = [encode(delivery_document(
        delivery_id=delivery_id if same == "delivery id" else None,
        idempotency_token=token if same == "idempotency token" else "auto")) for _ in range(24)]
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def send(body: bytes) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as own:
            barrier.wait()
            statuses.append(post_delivery(own, body).status_code)

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * len(bodies)
    assert len(inbox_rows(engine)) == 1


def test_unreachable_database_is_503_never_410(client):
    with BackgroundServer(create_app("postgresql+psycopg://nobody:pw@127.0.0.1:1/none",
                                     ReceiverSettings(secrets=SECRETS))) as server, \
            httpx.Client(base_url=server.url, timeout=30) as down:
        response = post_delivery(down, encode(delivery_document()))
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert down.get("/healthz").status_code == 503


def _set_connections_allowed(server_url, database: str, allowed: bool) -> None:
    """Open or close `database` to new connections; closing also ends the open ones (an outage)."""
    admin = sa.create_engine(server_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
            if not allowed:
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = :name"), {"name": database})
    finally:
        admin.dispose()


def test_database_outage_is_503_and_the_retry_after_recovery_is_stored(client, engine, pg_server_url):
    database = engine.url.database
    document = delivery_document()
    body = encode(document)
    assert post_delivery(client, encode(delivery_document())).status_code == 200  # the pool is warm

    _set_connections_allowed(pg_server_url, database, False)
    try:
        outage = post_delivery(client, body)
        assert outage.status_code == 503, outage.text
        assert client.get("/healthz").status_code == 503
    finally:
        _set_connections_allowed(pg_server_url, database, True)

    retried = post_delivery(client, body)  # what PCO does after a non-200
    assert retried.status_code == 200
    assert client.get("/healthz").json() == {"status": "ok", "database": "reachable"}
    assert sum(row["delivery_id"] == document["data"][0]["id"] for row in inbox_rows(engine)) == 1


def test_connections_killed_by_a_database_restart_are_replaced_without_a_503(client, engine, pg_server_url):
    with httpx.Client(base_url=client.base_url, timeout=30) as second:
        # Two connections at once leave two idle connections in the pool.
        barrier = threading.Barrier(2)
        results: list[int] = []

        def warm(http: httpx.Client) -> None:
            barrier.wait()
            results.append(post_delivery(http, encode(delivery_document())).status_code)

        threads = [threading.Thread(target=warm, args=(http,)) for http in (client, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [200, 200]
    admin = sa.create_engine(pg_server_url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # what a server restart does to the pooled connections
        killed = conn.execute(sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                      "WHERE datname = :name AND application_name = 'pco_pipeline_webhooks'"),
                              {"name": engine.url.database}).scalar_one()
    admin.dispose()
    assert killed >= 1

    assert post_delivery(client, encode(delivery_document())).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert len(inbox_rows(engine)) == 3


def test_healthz_reports_a_reachable_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "reachable"}


def test_get_on_the_webhook_path_is_405_not_410(client):
    assert client.get("/api/pco/webhook").status_code == 405


def test_no_payload_reaches_the_logs(database_url, engine, caplog):
    caplog.set_level(logging.DEBUG)
    marker = "Zephyrine-Quillfeather-4417"  # appears only inside payloads
    stored = delivery_document(attributes={"first_name": marker, "email": f"{marker}@example.org"})
    with BackgroundServer(create_app(database_url, ReceiverSettings(secrets=SECRETS)), access_log=True) as server, \
            httpx.Client(base_url=server.url) as client:
        assert post_delivery(client, encode(stored)).status_code == 200
        assert post_delivery(client, encode(stored)).status_code == 200  # duplicate
        assert post_delivery(client, encode(delivery_document(attributes={"n": marker})),
                             secret="wrong").status_code == 401
        assert "rejected" in post_delivery(client, f'{{"data": "{marker}"'.encode()).json()
        assert "rejected" in post_delivery(client, _with("attributes.attempt", marker)).json()
        document = delivery_document(attributes={"first_name": marker})
        document["data"][0]["attributes"]["payload"] = json.loads(document["data"][0]["attributes"]["payload"])
        assert "rejected" in post_delivery(client, encode(document)).json()
    with BackgroundServer(create_app("postgresql+psycopg://nobody:pw@127.0.0.1:1/none",
                                     ReceiverSettings(secrets=SECRETS))) as down, \
            httpx.Client(base_url=down.url) as client:
        assert post_delivery(client, encode(delivery_document(attributes={"n": marker}))).status_code == 503

    logged = "\n".join(f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records)
    assert marker not in logged
    delivery_id = stored["data"][0]["id"]
    assert f"stored webhook people.v2.events.person.updated delivery {delivery_id} attempt 1" in logged
    assert f"duplicate webhook people.v2.events.person.updated delivery {delivery_id}" in logged
    assert "bad signature" in logged and "not an EventDelivery" in logged and "answered 503" in logged
    assert len(inbox_rows(engine)) == 1
