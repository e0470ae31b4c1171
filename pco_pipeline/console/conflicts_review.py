"""The conflicts review: the two-way sync's conflicts (`sync.conflicts`, the table's only writer)
as staff decide them, one at a time or per field across records.

A decision is checked against the conflict as the page showed it (its version: base, church and
PCO values): a conflict the next diff updated, or that someone decided meanwhile, refuses the
decision with a message and nothing is recorded. A per-field decision covers exactly the
conflicts the page listed, all or none.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import sqlalchemy as sa

from pco_pipeline.sync.conflicts import Conflict, ConflictError, get_conflict, list_conflicts, resolve_conflict

RECENT_DECISIONS = 50


def shown_version(conflicts: Sequence[Conflict]) -> str:
    """What a decision on `conflicts` (in this order) is made on: their base, church and PCO values."""
    shown = [[c.base_value, c.church_value, c.pco_value, c.church_deleted, c.pco_deleted] for c in conflicts]
    return hashlib.md5(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class FieldGroup:
    """The open conflicts of one entity field, for a decision across records."""

    entity: str
    name: str                 # the field's name
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def ids(self) -> str:
        return ",".join(str(c.id) for c in self.conflicts)

    @property
    def version(self) -> str:
        return shown_version(self.conflicts)


@dataclass
class ConflictsPage:
    open: list[Conflict]
    groups: list[FieldGroup]          # fields with more than one open conflict
    decided: list[Conflict]           # the latest decisions, newest first


def conflicts_page(conn: sa.Connection) -> ConflictsPage:
    waiting = list_conflicts(conn, open_only=True)
    groups: dict[tuple[str, str], FieldGroup] = {}
    for conflict in waiting:
        groups.setdefault((conflict.entity, conflict.field), FieldGroup(conflict.entity, conflict.field)
                          ).conflicts.append(conflict)
    decided = [c for c in list_conflicts(conn, limit=RECENT_DECISIONS * 2) if not c.is_open][:RECENT_DECISIONS]
    return ConflictsPage(waiting, [g for g in groups.values() if len(g.conflicts) > 1], decided)


def open_conflict_count(conn: sa.Connection) -> int:
    return int(conn.execute(sa.text("SELECT count(*) FROM sync_conflicts WHERE decided_at IS NULL")).scalar_one())


def person_conflicts(conn: sa.Connection, person_id: int) -> list[Conflict]:
    """The conflicts of church person `person_id`'s own fields, newest first."""
    ids = conn.execute(sa.text(
        "SELECT id FROM sync_conflicts WHERE entity = 'people' AND local_id = :id ORDER BY id DESC LIMIT 200"),
        {"id": person_id}).scalars()
    return [c for c in (get_conflict(conn, conflict_id) for conflict_id in ids) if c is not None]


def decide(engine: sa.Engine, conflict_ids: Sequence[int], version: str, *, decided_by: str,
           take: Literal["church", "pco"] | None, value: str | None) -> int:
    """Decide the open conflicts `conflict_ids` (one, or a field's group as listed) as shown at
    `version`: take a side, or give `value`. All or none; returns how many were decided. Raises
    ConflictError saying why nothing was."""
    if not conflict_ids:
        raise ConflictError("no conflict to decide")
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT id FROM sync_conflicts WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
                     {"ids": list(conflict_ids)})
        current = [get_conflict(conn, conflict_id) for conflict_id in conflict_ids]
        missing = [i for i, c in zip(conflict_ids, current) if c is None]
        if missing:
            raise ConflictError(f"there is no conflict {missing[0]}")
        shown = [c for c in current if c is not None]
        decided = next((c for c in shown if not c.is_open), None)
        if decided is not None:
            raise ConflictError(f"conflict {decided.id} was decided by {decided.decided_by} after the page was "
                                "shown. Nothing was changed.")
        if shown_version(shown) != version:
            raise ConflictError("the values changed since the page was shown (a sync saw newer ones): review them "
                                "again. Nothing was changed.")
        for conflict in shown:
            resolve_conflict(conn, conflict.id, decided_by=decided_by, take=take, value=value)
    return len(shown)
