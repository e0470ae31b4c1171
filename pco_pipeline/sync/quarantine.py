"""The quarantine: records a sync could not apply, with the reason, kept until they load.

Set-based loads collect their rejects in a per-transaction stage table (`open_stage`, then
`INSERT INTO quarantine_stage …`) and call `apply_stage` once: new rejects are opened, rejects
seen again get their `last_seen_at`/reason refreshed, and open rows of that entity which this
run processed and no longer rejected are resolved. Because every load re-examines all the PCO
records it covers, a quarantined record is retried on each run and resolved by the first run
in which it loads.

Single-record callers (webhook application, outbound pushes) use `quarantine_record` and
`resolve_record`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.jsonapi import RecordError
from pco_pipeline.sync.statements import statement

STAGE = "quarantine_stage"  # the temp table the statements in sync/sql/quarantine/ name

INVALID_DATA = "invalid_data"
AMBIGUOUS_MATCH = "ambiguous_match"
MISSING_PARENT = "missing_parent"
UNREADABLE = "unreadable"


def open_stage(conn: sa.Connection) -> None:
    """Create this transaction's stage table of rejects (shared by the loads it runs, keyed by entity)."""
    conn.execute(statement("quarantine/open_stage"))


def apply_stage(conn: sa.Connection, entity: str, *, scope: Sequence[str] | None = None,
                direction: str = "inbound") -> int:
    """Move the staged rejects of `entity` into the quarantine; resolve what no longer fails.

    `scope` limits resolution to these record keys (a run restricted to some records must not
    resolve rejects it did not look at); None means the run covered every record of `entity`.
    Returns how many records of `entity` are quarantined by this run.
    """
    staged = conn.execute(statement("quarantine/apply_stage"), {"entity": entity, "direction": direction}).scalar_one()
    conn.execute(statement("quarantine/resolve_unstaged"),
                 {"entity": entity, "scope": list(scope) if scope is not None else None})
    return int(staged)


def quarantine_record(conn: sa.Connection, entity: str, record_key: str, reason_code: str, reason: str, *,
                      pco_id: str | None = None, local_id: int | None = None,
                      details: dict[str, Any] | None = None, record: Any = None,
                      direction: str = "inbound") -> None:
    """Open (or refresh) the quarantine row of one record."""
    params = {"entity": entity, "direction": direction, "key": record_key, "pco_id": pco_id,
              "local_id": local_id, "code": reason_code, "reason": reason,
              "details": json.dumps(details or {}, default=str),
              "record": json.dumps(record, default=str) if record is not None else None}
    updated = conn.execute(sa.text(
        "UPDATE sync_quarantine SET last_seen_at = now(), seen_count = seen_count + 1,"
        " reason_code = :code, reason = :reason, details = CAST(:details AS jsonb),"
        " record = CAST(:record AS jsonb), pco_id = :pco_id, local_id = :local_id"
        " WHERE entity = :entity AND record_key = :key AND resolved_at IS NULL"), params).rowcount
    if not updated:
        conn.execute(sa.text(
            "INSERT INTO sync_quarantine (entity, direction, record_key, pco_id, local_id, reason_code,"
            " reason, details, record) VALUES (:entity, :direction, :key, :pco_id, :local_id, :code,"
            " :reason, CAST(:details AS jsonb), CAST(:record AS jsonb))"), params)


def resolve_record(conn: sa.Connection, entity: str, record_key: str) -> bool:
    """Resolve the open quarantine row of one record; whether there was one."""
    return bool(resolve_records(conn, entity, [record_key]))


def resolve_records(conn: sa.Connection, entity: str, record_keys: Sequence[str]) -> int:
    """Resolve the open quarantine rows of these records (one statement); how many there were."""
    return conn.execute(sa.text(
        "UPDATE sync_quarantine SET resolved_at = now()"
        " WHERE entity = :entity AND record_key = ANY(:keys) AND resolved_at IS NULL"),
        {"entity": entity, "keys": list(record_keys)}).rowcount


def quarantine_unreadable(conn: sa.Connection, resource: str, errors: Iterable[RecordError]) -> int:
    """Quarantine resource objects a page could not parse (entity = the resource name).

    The key is the object's id when it has one (so it resolves when it lands readable), else a
    hash of the object.
    """
    count = 0
    for error in errors:
        raw = error.raw
        pco_id = str(raw["id"]) if isinstance(raw, dict) and raw.get("id") not in (None, "") else None
        key = pco_id or "sha256:" + hashlib.sha256(json.dumps(raw, sort_keys=True, default=str)
                                                     .encode()).hexdigest()[:32]
        quarantine_record(conn, resource, key, UNREADABLE, f"PCO sent a record that cannot be read: {error.reason}",
                          pco_id=pco_id, record=raw)
        count += 1
    return count


@dataclass(frozen=True)
class QuarantinedRecord:
    entity: str
    record_key: str
    reason_code: str
    reason: str
    details: dict[str, Any]
    seen_count: int


def open_records(conn: sa.Connection, entity: str | None = None, limit: int = 100) -> list[QuarantinedRecord]:
    """Open quarantine rows, newest first (all entities when `entity` is None)."""
    rows = conn.execute(sa.text(
        "SELECT entity, record_key, reason_code, reason, details, seen_count FROM sync_quarantine"
        " WHERE resolved_at IS NULL AND (CAST(:entity AS text) IS NULL OR entity = :entity)"
        " ORDER BY last_seen_at DESC, id DESC LIMIT :limit"), {"entity": entity, "limit": limit}).all()
    return [QuarantinedRecord(*row) for row in rows]


def open_counts(conn: sa.Connection) -> dict[str, int]:
    """Open quarantine rows per entity."""
    return dict(conn.execute(sa.text(
        "SELECT entity, count(*) FROM sync_quarantine WHERE resolved_at IS NULL GROUP BY entity ORDER BY 1")).all())
