"""EventDelivery bodies → inbox facts, and the reasons a body is refused."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from pco_pipeline.webhooks.envelope import EnvelopeError, parse_deliveries
from pco_pipeline_tests.webhooks.conftest import delivery_document, encode


def test_fields_come_from_the_envelope_and_the_payload():
    document = delivery_document(delivery_id="d-1", event="people.v2.events.email.created", attempt=4,
                                 idempotency_token="tok", event_time="2025-06-01T10:00:00.250-05:00",
                                 resource_type="Email", resource_id="991")
    [delivery] = parse_deliveries(encode(document))
    assert delivery.delivery_id == "d-1"
    assert delivery.event_name == "people.v2.events.email.created"
    assert delivery.attempt == 4
    assert delivery.idempotency_token == "tok"
    assert delivery.event_time == datetime(2025, 6, 1, 15, 0, 0, 250000, tzinfo=timezone.utc)
    assert (delivery.resource_type, delivery.resource_id) == ("Email", "991")


def test_destroyed_payload_has_only_type_id_and_parent():
    payload = {"data": {"type": "Person", "id": "5", "relationships": {}, "links": {}},
               "meta": {"parent": {"id": "1", "type": "Organization"}}}
    body = encode({"data": [{"id": "d-2", "type": "EventDelivery", "attributes": {
        "name": "people.v2.events.person.destroyed", "attempt": 1, "payload": json.dumps(payload)}}]})
    [delivery] = parse_deliveries(body)
    assert delivery.idempotency_token is None and delivery.event_time is None
    assert delivery.resource_id == "5"


def test_naive_event_time_is_read_as_utc():
    [delivery] = parse_deliveries(encode(delivery_document(event_time="2025-06-01T10:00:00")))
    assert delivery.event_time is not None
    assert delivery.event_time.utcoffset() == timedelta(0) and delivery.event_time.hour == 10


def test_header_fills_in_a_missing_id_and_attempt_of_a_single_delivery():
    document = delivery_document()
    item = document["data"][0]
    del item["id"], item["attributes"]["attempt"]
    [delivery] = parse_deliveries(encode(document), header_delivery_id="from-header", header_attempt="7")
    assert (delivery.delivery_id, delivery.attempt) == ("from-header", 7)


def test_body_values_win_over_headers():
    document = delivery_document(delivery_id="from-body", attempt=2)
    [delivery] = parse_deliveries(encode(document), header_delivery_id="from-header", header_attempt="9")
    assert (delivery.delivery_id, delivery.attempt) == ("from-body", 2)


def test_missing_attempt_without_a_header_is_the_first_attempt():
    document = delivery_document()
    del document["data"][0]["attributes"]["attempt"]
    assert parse_deliveries(encode(document))[0].attempt == 1


def test_headers_do_not_fill_in_for_a_list_of_several():
    first, second = delivery_document()["data"][0], delivery_document()["data"][0]
    del second["id"]
    with pytest.raises(EnvelopeError, match=r"data\[1\]\.id"):
        parse_deliveries(encode({"data": [first, second]}), header_delivery_id="from-header")


def test_integer_ids_are_read_as_text():
    document = delivery_document(resource_id="12")
    document["data"][0]["id"] = 345
    [delivery] = parse_deliveries(encode(document))
    assert delivery.delivery_id == "345"


@pytest.mark.parametrize("mutate, reason", [
    (lambda item: item["attributes"].update(attempt=True), "attempt must be a positive integer"),
    (lambda item: item["attributes"].update(attempt=0), "attempt must be a positive integer"),
    (lambda item: item.update(id="bad\x00id"), "data[0].id contains a control character"),
    (lambda item: item["attributes"].update(name="people.v2.events.person.updated\nINFO forged line"),
     "data[0].attributes.name contains a control character"),
    (lambda item: item.update(attributes=[]), "attributes must be an object, got a list"),
    (lambda item: item["attributes"].update(payload='{"meta": {}}'), "payload data must be a resource object"),
    (lambda item: item["attributes"].update(payload='{"data": {"type": "Person", "id": "1"}, "meta": []}'),
     "payload meta must be an object"),
    (lambda item: item["attributes"].update(payload='{"data": {"type": "Person"}}'), "payload data.id"),
    (lambda item: item["attributes"].update(
        payload='{"data": {"type": "Person", "id": "1"}, "meta": {"idempotency_token": 5}}'),
     "meta.idempotency_token must be a non-empty string"),
    (lambda item: item["attributes"].update(
        payload='{"data": {"type": "Person", "id": "1"}, "meta": {"event_time": 1700000000}}'),
     "meta.event_time must be an ISO 8601 timestamp string"),
])
def test_malformed_delivery_is_refused_with_where_and_why(mutate, reason):
    document = delivery_document()
    mutate(document["data"][0])
    with pytest.raises(EnvelopeError) as caught:
        parse_deliveries(encode(document))
    assert reason in caught.value.reason


def test_reasons_never_quote_body_values():
    document = delivery_document()
    document["data"][0]["attributes"]["attempt"] = "Secret-Name-Value"
    with pytest.raises(EnvelopeError) as caught:
        parse_deliveries(encode(document))
    assert "Secret-Name-Value" not in caught.value.reason


def test_a_body_of_more_than_a_hundred_deliveries_is_refused():
    items = [delivery_document()["data"][0] for _ in range(101)]
    with pytest.raises(EnvelopeError, match="more than 100 deliveries"):
        parse_deliveries(encode({"data": items}))
    assert len(parse_deliveries(encode({"data": items[:100]}))) == 100
