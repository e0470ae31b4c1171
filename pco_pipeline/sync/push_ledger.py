"""The push ledger (`pco_push_ledger`): what this pipeline wrote to PCO, for crash safety and echoes.

Crash safety. A create PCO cannot later be found by a key of ours is recorded as an *intent*
(`record_intent`, state 'sent') and committed before the request goes out; `confirm` turns it
into 'confirmed' with PCO's id, in the same transaction that stores the id on the local row. An
intent still open at the next push (`open_intents`) means the answer was lost: the push looks
the record up in PCO and adopts it (`confirm(..., state="adopted")`) or sends it again.
`close_intent` records a create PCO refused (or one that turned out never to have been made).
Updates and deletes are recorded the same way (`action='update'|'delete'`, with the PCO id they
are about): an open update intent is resumed by reading the PCO record and comparing it with what
was sent (`push_engine.update_recorded`), an open delete is simply sent again (a DELETE of a
record already gone is a 404, which means done).
Writes that need no intent (contacts, memberships: the push compares with PCO before sending)
are recorded once confirmed (`record_write`).

Echo suppression (for the webhook helper). PCO sends a webhook for our own writes too, with no
origin marker (pco_api.md §4, ISS#760):

    from pco_pipeline.sync.push_ledger import was_our_write
    if was_our_write(conn, "Person", payload_id, payload_attributes):
        ...  # our own write coming back: nothing to apply

`was_our_write(conn, resource_type, pco_id, attributes, within=ECHO_WINDOW)` is true when one
of our confirmed writes of that PCO record in the last `within` left it with exactly these
attribute values: every attribute of PCO's answer to our write is in the webhook's `attributes`
with the same value, except `updated_at` (which our later writes under the record, e.g. a new
email, move). A change someone made in PCO since then makes a value differ, so it is applied;
so does a payload of another shape (e.g. another API version) — applying an echo is only waste.
`recent_writes` lists those writes for inspection.

`is_own_echo(conn, resource_type, pco_id, values, updated_at=None)` is the same question for a
reader that holds only some of the values (a load comparing a few landed fields, the three-way
merge): every given value is what PCO answered to one of our recent writes and, when
`updated_at` is given, PCO's record has not moved since that write (same `updated_at`).
`values=None` asks about a deletion: whether we deleted that record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync.normalize import InvalidValue, parse_timestamp

# Deliveries normally arrive within seconds; during PCO incidents they lag up to an hour (ISS#709).
ECHO_WINDOW = timedelta(hours=6)
VOLATILE_ATTRIBUTES = frozenset({"updated_at"})


@dataclass(frozen=True)
class Intent:
    """A write sent (or about to be) whose answer has not been recorded."""

    id: int
    resource_type: str
    local_table: str
    local_key: str
    sent: dict[str, Any]
    sent_at: datetime
    parent_pco_id: str | None
    action: str = "create"
    pco_id: str | None = None    # the record an update or delete is about


@dataclass(frozen=True)
class PushedWrite:
    resource_type: str
    pco_id: str
    action: str
    state: str
    local_table: str
    local_key: str
    confirmed: dict[str, Any]
    confirmed_at: datetime
    run_id: str | None


def _json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


_INTENT_COLUMNS = "id, resource_type, local_table, local_key, sent, sent_at, parent_pco_id, action, pco_id"
ACTIONS = ("create", "update", "delete")


def record_intent(conn: sa.Connection, *, run_id: str | None, resource_type: str, local_table: str,
                  local_key: str, sent: Mapping[str, Any], parent_pco_id: str | None = None,
                  action: str = "create", pco_id: str | None = None) -> Intent:
    """Open (or refresh) the in-flight intent of one write (`pco_id`: the record an update or
    delete is about). Commit it before sending."""
    if action not in ACTIONS:
        raise ValueError(f"unknown ledger action {action!r}")
    params = {"run": run_id, "type": resource_type, "table": local_table, "key": str(local_key),
              "sent": _json(sent), "parent": parent_pco_id, "action": action, "pco_id": pco_id}
    row = conn.execute(sa.text(
        "UPDATE pco_push_ledger SET run_id = :run, sent = CAST(:sent AS jsonb), parent_pco_id = :parent,"
        " pco_id = :pco_id, sent_at = clock_timestamp()"
        " WHERE resource_type = :type AND local_table = :table AND local_key = :key AND action = :action"
        "   AND state = 'sent'"
        f" RETURNING {_INTENT_COLUMNS}"), params).first()
    if row is None:
        row = conn.execute(sa.text(
            "INSERT INTO pco_push_ledger (run_id, resource_type, action, local_table, local_key, parent_pco_id,"
            " pco_id, sent, state)"
            " VALUES (:run, :type, :action, :table, :key, :parent, :pco_id, CAST(:sent AS jsonb), 'sent')"
            f" RETURNING {_INTENT_COLUMNS}"), params).one()
    return Intent(*row)


def open_intents(conn: sa.Connection, resource_type: str, local_table: str,
                 local_keys: Iterable[str] | None = None, *, action: str = "create") -> dict[str, Intent]:
    """In-flight intents of one action by local key (all of this kind, or only `local_keys`)."""
    keys = None if local_keys is None else [str(k) for k in local_keys]
    rows = conn.execute(sa.text(
        f"SELECT {_INTENT_COLUMNS} FROM pco_push_ledger"
        " WHERE resource_type = :type AND local_table = :table AND action = :action AND state = 'sent'"
        "   AND (CAST(:keys AS text[]) IS NULL OR local_key = ANY(CAST(:keys AS text[])))"),
        {"type": resource_type, "table": local_table, "keys": keys, "action": action}).all()
    return {row.local_key: Intent(*row) for row in rows}


def answered_values(resource: Resource) -> dict[str, Any]:
    """What PCO's answer says the record now is: its attributes (the echo comparison's reference)."""
    return dict(resource.attributes)


def confirm(conn: sa.Connection, ledger_id: int, resource: Resource, *, state: str = "confirmed",
            detail: str | None = None) -> None:
    """Close an intent with PCO's answer (or the record found after a lost answer: state 'adopted')."""
    conn.execute(sa.text(
        "UPDATE pco_push_ledger SET state = :state, pco_id = :pco_id, confirmed = CAST(:confirmed AS jsonb),"
        " confirmed_at = clock_timestamp(), pco_updated_at = CAST(:updated AS timestamptz), detail = :detail"
        " WHERE id = :id"),
        {"state": state, "pco_id": resource.id, "confirmed": _json(answered_values(resource)),
         "updated": resource.get("updated_at"), "detail": detail, "id": ledger_id})


def confirm_deleted(conn: sa.Connection, ledger_id: int, *, detail: str | None = None) -> None:
    """Close a delete intent: PCO deleted the record (or it was already gone: `detail` says so)."""
    conn.execute(sa.text(
        "UPDATE pco_push_ledger SET state = 'confirmed', confirmed_at = clock_timestamp(), detail = :detail"
        " WHERE id = :id AND action = 'delete'"), {"detail": detail, "id": ledger_id})


def close_intent(conn: sa.Connection, ledger_id: int, state: str, detail: str) -> None:
    """Close an intent without a PCO record: 'refused' (PCO said no) or 'abandoned' (never made)."""
    if state not in ("refused", "abandoned"):
        raise ValueError(f"an intent closes as refused or abandoned, not {state!r}")
    conn.execute(sa.text("UPDATE pco_push_ledger SET state = :state, detail = :detail WHERE id = :id"),
                 {"state": state, "detail": detail, "id": ledger_id})


def record_write(conn: sa.Connection, *, run_id: str | None, resource_type: str, action: str, local_table: str,
                 local_key: str, sent: Mapping[str, Any], resource: Resource, parent_pco_id: str | None = None,
                 state: str = "confirmed", detail: str | None = None) -> None:
    """Record a write PCO confirmed (or a record adopted) that had no intent of its own."""
    conn.execute(sa.text(
        "INSERT INTO pco_push_ledger (run_id, resource_type, action, local_table, local_key, parent_pco_id,"
        " pco_id, sent, confirmed, state, detail, confirmed_at, pco_updated_at)"
        " VALUES (:run, :type, :action, :table, :key, :parent, :pco_id, CAST(:sent AS jsonb),"
        " CAST(:confirmed AS jsonb), :state, :detail, clock_timestamp(), CAST(:updated AS timestamptz))"),
        {"run": run_id, "type": resource_type, "action": action, "table": local_table, "key": str(local_key),
         "parent": parent_pco_id, "pco_id": resource.id, "sent": _json(sent),
         "confirmed": _json(answered_values(resource)), "state": state, "detail": detail,
         "updated": resource.get("updated_at")})


# --- echoes -------------------------------------------------------------------------------------

def recent_writes(conn: sa.Connection, resource_type: str, pco_id: str,
                  within: timedelta = ECHO_WINDOW) -> list[PushedWrite]:
    """Our confirmed writes of one PCO record in the last `within`, newest first."""
    rows = conn.execute(sa.text(
        "SELECT resource_type, pco_id, action, state, local_table, local_key, confirmed, confirmed_at, run_id"
        " FROM pco_push_ledger"
        " WHERE resource_type = :type AND pco_id = :pco_id AND state IN ('confirmed', 'adopted')"
        "   AND confirmed IS NOT NULL AND confirmed_at >= clock_timestamp() - CAST(:within AS interval)"
        " ORDER BY confirmed_at DESC, id DESC"),
        {"type": resource_type, "pco_id": str(pco_id), "within": f"{within.total_seconds()} seconds"}).all()
    return [PushedWrite(*row) for row in rows]


def _comparable(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return _json(value)


def same_attributes(ours: Mapping[str, Any], theirs: Mapping[str, Any],
                    ignore: frozenset[str] = VOLATILE_ATTRIBUTES) -> bool:
    """Whether `theirs` carries every attribute of `ours` (except `ignore`) with the same value."""
    return all(name in theirs and _comparable(value) == _comparable(theirs[name])
               for name, value in ours.items() if name not in ignore)


# A write under a person (a contact created, changed or deleted) moves the person's updated_at,
# and PCO sends a person.updated for it with nothing else changed (pco_api.md §6.2).
_UNDER_PERSON = ("Email", "PhoneNumber", "Address")


def was_our_write(conn: sa.Connection, resource_type: str, pco_id: str, attributes: Mapping[str, Any],
                  within: timedelta = ECHO_WINDOW) -> bool:
    """True when a webhook about (`resource_type`, `pco_id`) with these `attributes` is an echo of
    one of our own recent writes (see the module docstring), so applying it would change nothing.
    A person.updated is also ours when we recently wrote one of the person's contacts and the
    person's attributes are those last landed (only updated_at moved)."""
    if any(same_attributes(write.confirmed, attributes) for write in recent_writes(conn, resource_type, pco_id, within)):
        return True
    return resource_type == "Person" and _touched_by_our_contact_write(conn, pco_id, attributes, within)


def _touched_by_our_contact_write(conn: sa.Connection, pco_id: str, attributes: Mapping[str, Any],
                                  within: timedelta) -> bool:
    landed = conn.execute(sa.text(
        "SELECT l.attributes FROM pco_landing l WHERE l.resource = 'people/people' AND l.pco_id = :pco_id"
        "   AND l.removed_at IS NULL"
        "   AND EXISTS (SELECT 1 FROM pco_push_ledger w WHERE w.parent_pco_id = :pco_id"
        "               AND w.resource_type = ANY(:types) AND w.state IN ('confirmed', 'adopted')"
        "               AND w.confirmed_at >= clock_timestamp() - CAST(:within AS interval))"),
        {"pco_id": str(pco_id), "types": list(_UNDER_PERSON), "within": f"{within.total_seconds()} seconds"}
    ).scalar()
    return landed is not None and same_attributes(landed, attributes)


def is_own_echo(conn: sa.Connection, resource_type: str, pco_id: str, values: Mapping[str, Any] | None, *,
                updated_at: Any = None, within: timedelta = ECHO_WINDOW) -> bool:
    """True when `values` of PCO record (`resource_type`, `pco_id`) are what one of our recent writes
    left there — and, with `updated_at`, PCO's record has not changed since (see the module
    docstring). `values=None`: whether one of our recent deletes removed the record."""
    if values is None:
        return conn.execute(sa.text(
            "SELECT 1 FROM pco_push_ledger WHERE resource_type = :type AND pco_id = :pco_id AND action = 'delete'"
            " AND state = 'confirmed' AND confirmed_at >= clock_timestamp() - CAST(:within AS interval) LIMIT 1"),
            {"type": resource_type, "pco_id": str(pco_id), "within": f"{within.total_seconds()} seconds"}
        ).first() is not None
    for write in recent_writes(conn, resource_type, pco_id, within):
        if write.action == "delete" or not same_attributes(values, write.confirmed):
            continue
        if updated_at is None or _instant(updated_at) == _instant(write.confirmed.get("updated_at")):
            return True
    return False


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return parse_timestamp(value, "updated_at")
    except InvalidValue:
        return None
