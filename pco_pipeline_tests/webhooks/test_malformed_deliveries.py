"""Authentic (correctly signed) deliveries the pipeline cannot use: each is kept in
`webhook_rejections` with its reason and answered 200 `{"rejected": reason}` (PCO would resend
the same content for days on any other status), never 500 or 503, and the receiver goes on."""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from collections.abc import Sequence
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from pco_pipeline.cli import main
from pco_pipeline.webhooks import receiver as receiver_module
from pco_pipeline.webhooks.database import ConnectionPool
from pco_pipeline.webhooks.envelope import Delivery
from pco_pipeline.webhooks.inbox import DeliveryRefused, store_deliveries
from pco_pipeline_tests.webhooks.conftest import delivery_document, encode, post_delivery

DEEP = 100_000


def _with_integer(placeholder: str, digits: int, **document_args) -> bytes:
    """A delivery whose `placeholder` string (an id) is replaced by a bare integer of `digits` random
    digits (json.dumps cannot write one that long; random, so PostgreSQL cannot compress it into
    an index entry)."""
    body = encode(delivery_document(**document_args))
    rng = random.Random(digits)
    integer = ("7" + "".join(rng.choices("0123456789", k=digits - 1))).encode()
    if f'"{placeholder}"'.encode() in body:
        return body.replace(f'"{placeholder}"'.encode(), integer)
    return body.replace(f'\\"{placeholder}\\"'.encode(), integer)  # inside the payload's JSON string


def _payload(text: str) -> bytes:
    document = delivery_document()
    document["data"][0]["attributes"]["payload"] = text
    return encode(document)


CASES = {
    "body nested 100,000 deep": (
        lambda: b'{"data": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        "not an EventDelivery: the body is nested deeper than 64 levels"),
    "payload nested 100,000 deep": (
        lambda: _payload("[" * DEEP + "]" * DEEP),
        "not an EventDelivery: data[0].attributes.payload is nested deeper than 64 levels"),
    "lone surrogate in the delivery id": (
        lambda: encode(delivery_document(delivery_id="5a1d7e1c-\ud800")),
        "not an EventDelivery: data[0].id is not valid Unicode text (it holds a lone surrogate)"),
    "lone surrogate in the event name": (
        lambda: encode(delivery_document(event="people.v2.events.person.updated\udc00")),
        "not an EventDelivery: data[0].attributes.name is not valid Unicode text (it holds a lone surrogate)"),
    "lone surrogate in the resource id": (
        lambda: encode(delivery_document(resource_id="1289\ud83d")),
        "not an EventDelivery: data[0].attributes.payload data.id is not valid Unicode text "
        "(it holds a lone surrogate)"),
    "5,000-digit integer delivery id": (
        lambda: _with_integer("integer-id", 5000, delivery_id="integer-id"),
        "not an EventDelivery: the body holds a number of more than 640 digits"),
    "3,000-digit integer delivery id": (
        lambda: _with_integer("integer-id", 3000, delivery_id="integer-id"),
        "not an EventDelivery: the body holds a number of more than 640 digits"),
    "3,000-digit integer resource id": (
        lambda: _with_integer("integer-id", 3000, resource_id="integer-id"),
        "not an EventDelivery: data[0].attributes.payload holds a number of more than 640 digits"),
    "300-digit integer delivery id": (
        lambda: _with_integer("integer-id", 300, delivery_id="integer-id"),
        "not an EventDelivery: data[0].id is longer than 255 characters"),
}


def rejections(engine: sa.Engine) -> Sequence[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT reason, raw_body, received_at FROM webhook_rejections ORDER BY id")).all()


def inbox_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM webhook_inbox")).scalar_one()


@pytest.mark.parametrize("case", list(CASES))
def test_an_authentic_malformed_delivery_is_kept_with_its_reason_and_the_next_one_is_stored(client, engine, case):
    make_body, reason = CASES[case]
    body = make_body()

    response = post_delivery(client, body)  # the client's timeout (30 s) bounds the wait

    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 0, "duplicates": 0, "rejected": reason}
    [kept] = rejections(engine)
    assert (kept.reason, bytes(kept.raw_body)) == (reason, body)
    assert inbox_count(engine) == 0
    good = post_delivery(client, encode(delivery_document()))
    assert (good.status_code, good.json()) == (200, {"stored": 1, "duplicates": 0})


def test_the_same_rejected_body_sent_twice_is_kept_once_and_unsigned_garbage_is_never_kept(client, engine):
    body = b'{"data": "nothing usable"}'
    assert "rejected" in post_delivery(client, body).json()
    assert "rejected" in post_delivery(client, body).json()  # the answer was lost, PCO sent it again
    assert post_delivery(client, b"[[[[", secret="not-a-subscription-secret").status_code == 401
    assert post_delivery(client, b"[[[[", secret=None).status_code == 401
    assert len(rejections(engine)) == 1


def _refused_delivery(**changes) -> Delivery:
    """A delivery with values the envelope would never let through (as if a check were missing)."""
    values = dict(delivery_id="d-1", event_name="people.v2.events.person.updated", attempt=1,
                  idempotency_token=None, event_time=datetime(2025, 3, 2, tzinfo=timezone.utc),
                  resource_type="Person", resource_id="1")
    return Delivery(**{**values, **changes})


@pytest.mark.parametrize("changes, sqlstate", [
    ({"delivery_id": secrets.token_urlsafe(3000)}, "SQLSTATE 54000"),  # over the index entry size limit
    ({"event_name": "people.v2.events.person.updated\x00"}, "DataError"),
    ({"resource_type": "Person\ud800"}, "not valid Unicode"),
])
def test_a_database_refusing_the_values_is_delivery_refused_not_an_outage(database_url, changes, sqlstate):
    async def store() -> None:
        pool = ConnectionPool(database_url)
        try:
            await store_deliveries(pool, [_refused_delivery(**changes)], b"{}")
        finally:
            await pool.close()

    with pytest.raises(DeliveryRefused) as refused:
        asyncio.run(store())
    assert sqlstate in refused.value.reason and refused.value.reason.startswith("the database refused its values")


def test_a_delivery_the_database_refuses_is_kept_as_rejected_never_503(client, engine, monkeypatch):
    body = encode(delivery_document())
    # As if the envelope had let a value through that the database cannot index.
    monkeypatch.setattr(receiver_module, "parse_deliveries",
                        lambda *args, **kwargs: [_refused_delivery(delivery_id=secrets.token_urlsafe(3000))])
    response = post_delivery(client, body)
    assert response.status_code == 200, response.text
    assert response.json()["rejected"].startswith("the database refused its values: ")
    assert "SQLSTATE 54000" in response.json()["rejected"]
    [kept] = rejections(engine)
    assert bytes(kept.raw_body) == body and inbox_count(engine) == 0


def test_webhooks_status_shows_the_rejected_deliveries(client, engine, database_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("PCO_WEBHOOK_SECRETS", raising=False)
    assert main(["webhooks", "status"]) == 0
    assert "rejected deliveries: 0" in capsys.readouterr().out

    post_delivery(client, b'{"data": "one"}')
    post_delivery(client, b'{"data": "two"}')
    assert main(["webhooks", "status"]) == 0
    out = capsys.readouterr().out
    assert "rejected deliveries: 2, the latest " in out and "webhook_rejections" in out
    assert '"one"' not in out  # counted, never shown


def test_a_rejection_never_quotes_the_body(client, engine):
    marker = "Zephyrine-Quillfeather-4417"
    document = delivery_document(delivery_id=f"{marker}\ud800")
    document["data"][0]["attributes"]["name"] = marker * 20
    response = post_delivery(client, json.dumps(document).encode())
    assert marker not in response.text and marker not in rejections(engine)[0].reason
