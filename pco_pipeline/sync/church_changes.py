"""What the push sends under two-way sync: per linked record, the church's values PCO must be
given (the three-way outcome `send_church` or `conflict_church_wins`, and what staff decided
with `conflicts resolve --take church` or `--value`), and, once PCO confirmed a write, the base
moved to the values both sides now hold.

The push plans from `church_changes` and calls `confirm_sent` after PCO's answer, in the
transaction that records it. Fields never go to PCO otherwise: a field only PCO changed is the
load's to take, and a conflict held for a person is sent by nobody until someone decides it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from pco_pipeline.sync import conflicts
from pco_pipeline.sync.base import advance_base, forget_base
from pco_pipeline.sync.merge import DELETED, EntityFields, Missing, Outcome, Policy, three_way_sql


@dataclass(frozen=True)
class ChurchChange:
    """One linked record the push must write to PCO: `values` (field → the church's value, None
    for a blank) to PATCH, or `deleted` when the church deleted the record and PCO must follow.
    `conflict_ids` (field → conflict id) are the decided conflicts the write applies."""
    entity: str
    pco_id: str
    local_id: int
    values: Mapping[str, object]
    deleted: bool = False
    conflict_ids: Mapping[str, int] = field(default_factory=dict)


def church_changes(conn: sa.Connection, entity: EntityFields, policies: Mapping[str, Policy]
                   ) -> Iterator[ChurchChange]:
    """The records of `entity` with something to send to PCO, one `three_way_sql` statement
    streamed (a whole church at once), plus the staff decisions not yet applied. Values are the
    church's as stored (dates as `date`); a record PCO deleted is never in it (the church's edit
    of it is a conflict, see `sync_conflicts`)."""
    decided = _staff_decisions(conn, entity.entity)
    rows = conn.execute(three_way_sql(entity, policies, changed_only=True).execution_options(yield_per=2000),
                        {"entity": entity.entity})
    for row in rows:
        values = row._mapping
        if not values["pco_present"]:
            continue
        sent: dict[str, object] = {}
        for spec in entity.fields:
            if Outcome(values[f"{spec.name}__outcome"]).sends_church_value:
                sent[spec.name] = DELETED if not values["church_present"] else values[f"{spec.name}__church"]
        ids: dict[str, int] = {}
        for conflict in decided.pop(values["pco_id"], []):
            # take church: the row holds it (typed); a value: the decision itself (JSON, dates ISO).
            sent[conflict.field] = (DELETED if conflict.resolution_deletes
                                    else values[f"{conflict.field}__church"] if conflict.resolution_side == "church"
                                    else conflict.resolution_value)
            ids[conflict.field] = conflict.id
        if sent:
            deleted = any(value is DELETED for value in sent.values())
            yield ChurchChange(entity.entity, values["pco_id"], values["local_id"],
                               {} if deleted else sent, deleted=deleted, conflict_ids=ids)


def _staff_decisions(conn: sa.Connection, entity: str) -> dict[str, list[conflicts.Conflict]]:
    """Decided, unapplied conflicts whose decision PCO must be given (the church's side or a value)."""
    by_record: dict[str, list[conflicts.Conflict]] = {}
    for conflict in conflicts.decided_to_apply(conn, entity):
        if conflict.resolution_side in ("church", "value") and not conflict.is_moot:
            by_record.setdefault(conflict.pco_id, []).append(conflict)
    return by_record


def confirm_sent(conn: sa.Connection, entity: str, change: ChurchChange,
                 confirmed: Mapping[str, object] | Missing) -> None:
    """PCO confirmed the write of `change`: `confirmed` is what PCO now holds of the fields sent
    (from its answer; `DELETED` when the record is gone). The base of each field PCO holds as
    sent moves to it, and the conflicts the write applied are marked applied. A field PCO
    changed on its own way (its answer differs) keeps its base: the next load sees PCO's change."""
    if isinstance(confirmed, Missing):
        conflicts.mark_applied(conn, list(change.conflict_ids.values()))
        forget_base(conn, entity, change.pco_id)
        return
    agreed = {name: value for name, value in change.values.items()
              if name in confirmed and confirmed[name] == value}
    if agreed:
        advance_base(conn, entity, change.pco_id, change.local_id, agreed)
    conflicts.mark_applied(conn, [conflict_id for name, conflict_id in change.conflict_ids.items() if name in agreed])
