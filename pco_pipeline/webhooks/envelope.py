"""PCO's webhook body (an EventDelivery document) → the facts the inbox stores.

The body is `{"data": [{"id", "type": "EventDelivery", "attributes": {"name", "attempt",
"payload"}, "relationships": {"organization": …}}]}` where `payload` is a JSON *string*
holding a JSON:API document whose `meta` carries `event_time` and `idempotency_token` (absent on
destroyed events) and whose `data` names the changed resource. `data` is treated as a list
(PCO has only been seen sending one item); a single object is tolerated.

Error reasons name the offending field and never quote a value from the body: they are
returned to the sender, logged and stored. The body and its payload are decoded within
`pco.bounded_json`'s limits (nesting depth, integer length), and every value stored as text must
be text the database can hold (short, no control characters, no lone surrogates), so a signed
but malformed body is an EnvelopeError, never a crash or a database refusal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pco_pipeline.pco import bounded_json

# Every stored text column is covered by a unique or ordinary index in practice; PCO's ids
# and event names are far shorter, and btree entries are limited to ~2.7 kB.
MAX_TEXT_LENGTH = 255
MAX_ATTEMPT = 2**31 - 1  # INTEGER column
# PCO sends one per body; the cap keeps one INSERT within PostgreSQL's bind parameter limit.
MAX_DELIVERIES_PER_BODY = 100
# Control characters (NUL cannot even be stored as text) would forge lines in the logs.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class EnvelopeError(ValueError):
    """The body is not an EventDelivery document; `reason` says where and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Delivery:
    """One EventDelivery as the inbox stores it (the raw body is kept beside it)."""

    delivery_id: str
    event_name: str
    attempt: int
    idempotency_token: str | None
    event_time: datetime | None
    resource_type: str
    resource_id: str


def delivery_document(event_name: str, payload: dict[str, Any], *, delivery_id: str, attempt: int = 1,
                      organization_id: str = "1") -> dict[str, Any]:
    """The EventDelivery document PCO sends for one event: `payload` travels as a JSON string."""
    return {"data": [{
        "id": delivery_id,
        "type": "EventDelivery",
        "attributes": {"name": event_name, "attempt": attempt, "payload": json.dumps(payload)},
        "relationships": {"organization": {"data": {"type": "Organization", "id": organization_id}}},
    }]}


def parse_deliveries(body: bytes, *, header_delivery_id: str | None = None,
                     header_attempt: str | None = None) -> list[Delivery]:
    """The deliveries in `body`. Raises EnvelopeError when it is not an EventDelivery document.

    The body's own id and attempt win; the `X-PCO-Webhooks-Event` / `-Attempt` header values
    only fill in what a single-item body leaves out.
    """
    try:
        document = bounded_json.loads(body)
    except bounded_json.JSONLimitExceeded as exc:
        raise EnvelopeError(f"the body {exc.reason}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"the body is not JSON ({_json_position(exc)})") from None
    if not isinstance(document, dict) or "data" not in document:
        raise EnvelopeError("the body is not a JSON:API document with a top-level `data` member")
    items = document["data"]
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise EnvelopeError("`data` must be an EventDelivery object or a non-empty list of them")
    if len(items) > MAX_DELIVERIES_PER_BODY:
        raise EnvelopeError(f"`data` holds more than {MAX_DELIVERIES_PER_BODY} deliveries")
    single = len(items) == 1
    return [_parse_item(item, f"data[{index}]",
                        header_delivery_id=header_delivery_id if single else None,
                        header_attempt=header_attempt if single else None)
            for index, item in enumerate(items)]


def _parse_item(item: Any, where: str, *, header_delivery_id: str | None,
                header_attempt: str | None) -> Delivery:
    if not isinstance(item, dict):
        raise EnvelopeError(f"{where} must be an object, got {_kind(item)}")
    if item.get("type") != "EventDelivery":
        raise EnvelopeError(f"{where}.type must be \"EventDelivery\"")
    raw_id = item.get("id")
    if raw_id is None and header_delivery_id:
        raw_id = header_delivery_id.strip()
    delivery_id = _identifier(raw_id, f"{where}.id")
    attributes = item.get("attributes")
    if not isinstance(attributes, dict):
        raise EnvelopeError(f"{where}.attributes must be an object, got {_kind(attributes)}")
    event_name = _text(attributes.get("name"), f"{where}.attributes.name")
    attempt = _attempt(attributes.get("attempt"), header_attempt, f"{where}.attributes.attempt")
    payload = _payload(attributes.get("payload"), f"{where}.attributes.payload")

    meta = payload.get("meta", {})
    if not isinstance(meta, dict):
        raise EnvelopeError(f"{where}.attributes.payload meta must be an object, got {_kind(meta)}")
    resource = payload.get("data")
    if not isinstance(resource, dict):
        raise EnvelopeError(f"{where}.attributes.payload data must be a resource object, got {_kind(resource)}")
    token = meta.get("idempotency_token")
    return Delivery(
        delivery_id=delivery_id,
        event_name=event_name,
        attempt=attempt,
        idempotency_token=None if token is None else _text(token, f"{where}.attributes.payload meta.idempotency_token"),
        event_time=_event_time(meta.get("event_time"), f"{where}.attributes.payload meta.event_time"),
        resource_type=_text(resource.get("type"), f"{where}.attributes.payload data.type"),
        resource_id=_identifier(resource.get("id"), f"{where}.attributes.payload data.id"),
    )


def _payload(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, str):
        raise EnvelopeError(f"{where} must be a JSON string, got {_kind(value)}")
    try:
        payload = bounded_json.loads(value)
    except bounded_json.JSONLimitExceeded as exc:
        raise EnvelopeError(f"{where} {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise EnvelopeError(f"{where} is not valid JSON ({_json_position(exc)})") from None
    if not isinstance(payload, dict):
        raise EnvelopeError(f"{where} must encode a JSON:API document (an object), got {_kind(payload)}")
    return payload


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise EnvelopeError(f"{where} must be a non-empty string, got {_kind(value)}")
    if len(value) > MAX_TEXT_LENGTH:
        raise EnvelopeError(f"{where} is longer than {MAX_TEXT_LENGTH} characters")
    if _CONTROL_CHARACTERS.search(value):
        raise EnvelopeError(f"{where} contains a control character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which JSON can escape ("\ud800") but UTF-8 cannot hold
        raise EnvelopeError(f"{where} is not valid Unicode text (it holds a lone surrogate)") from None
    return value


def _identifier(value: Any, where: str) -> str:
    """PCO ids are strings; a bare integer id is accepted as its decimal text, within the same
    length limit (bounded_json keeps integers short enough for str() to convert)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return _text(value, where)


def _attempt(value: Any, header_value: str | None, where: str) -> int:
    if value is None:
        value = decimal_or_none(header_value or "")
        if value is None:
            return 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ATTEMPT:
        raise EnvelopeError(f"{where} must be a positive integer")
    return value


def _event_time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EnvelopeError(f"{where} must be an ISO 8601 timestamp string, got {_kind(value)}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise EnvelopeError(f"{where} is not an ISO 8601 timestamp") from None
    # PCO always sends an offset; a naive value can only sensibly mean UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def decimal_or_none(text: str) -> int | None:
    """The value of plain ASCII decimal digits (at most 18, so any int64), else None.

    str.isdigit alone admits digits int() refuses ("²") and lengths int() refuses to convert.
    """
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _kind(value: Any) -> str:
    """A value's JSON kind, for error messages that must not echo the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "an empty string" if not value.strip() else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _json_position(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return "not UTF-8 text"
