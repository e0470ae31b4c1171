"""What the push sends under two-way sync: per linked record, the church's values PCO must be
given (the three-way outcome `send_church` or `conflict_church_wins`, and what staff decided
with `conflicts resolve --take church` or `--value`), and, once PCO confirmed a write, the base
moved to the values both sides now hold.

The push plans from `church_changes` and calls `confirm_sent` after PCO's answer, in the
transaction that records it. What it plans from is `classify_changes`' comparison: only the
records that can differ from their base since the push's last comparison of the entity
(incremental, issue 17 item 3), every linked record after the nightly full refresh (with a drift
check). Fields never go to PCO otherwise: a field only PCO changed is the load's to take, and a
conflict held for a person is sent by nobody until someone decides it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from pco_pipeline.sync import conflicts
from pco_pipeline.sync.base import advance_base, forget_base, to_json
from pco_pipeline.sync.incremental import full_refresh_finished_since
from pco_pipeline.sync.loading import commit_watermark, read_watermark, snapshot_time
from pco_pipeline.sync.merge import DELETED, EntityFields, Missing, Outcome, Policy, all_in_sync_sql, three_way_sql
from pco_pipeline.sync.statements import statement


@dataclass(frozen=True)
class ChurchChange:
    """One linked record the push must write to PCO: `values` (field → the church's value, None
    for a blank) to PATCH, or `deleted` when the church deleted the record and PCO must follow.
    `conflict_ids` (field → conflict id) are the decided conflicts the write applies.
    `church_lacks` names the fields whose value is a staff decision (`conflicts resolve --value`)
    the church row does not hold yet: PCO is given it, but the base and the decision wait for the
    load to write it into the church row (`three_way_load.apply_resolutions`)."""
    entity: str
    pco_id: str
    local_id: int
    values: Mapping[str, object]
    deleted: bool = False
    conflict_ids: Mapping[str, int] = field(default_factory=dict)
    church_lacks: frozenset[str] = frozenset()


def church_changes(conn: sa.Connection, entity: EntityFields, policies: Mapping[str, Policy], *,
                   classified: str | None = None) -> Iterator[ChurchChange]:
    """The records of `entity` with something to send to PCO, plus the staff decisions not yet
    applied. `classified` names a table `classify_changes` filled in this transaction: its rows
    are read instead of classifying again; without it, one `three_way_sql` statement over every
    linked record is streamed. Values are the church's as stored (dates as `date`); a record PCO
    deleted is never in it (the church's edit of it is a conflict, see `sync_conflicts`)."""
    decided = _staff_decisions(conn, entity.entity)
    if classified is None:
        diff = three_way_sql(entity, policies, changed_only=True)
    else:
        # The table name is classify_changes' own, never input.
        diff = sa.text(f"SELECT * FROM {classified} d WHERE NOT ({all_in_sync_sql(entity)})")
    rows = conn.execute(diff.execution_options(yield_per=2000), {"entity": entity.entity})
    for row in rows:
        values = row._mapping
        if not values["pco_present"]:
            continue
        sent: dict[str, object] = {}
        for spec in entity.fields:
            if Outcome(values[f"{spec.name}__outcome"]).sends_church_value:
                sent[spec.name] = DELETED if not values["church_present"] else values[f"{spec.name}__church"]
        ids: dict[str, int] = {}
        lacks: set[str] = set()
        for conflict in decided.pop(values["pco_id"], []):
            # take church: the row holds it (typed); a value: the decision itself (JSON, dates ISO).
            church = values[f"{conflict.field}__church"]
            sent[conflict.field] = (DELETED if conflict.resolution_deletes
                                    else church if conflict.resolution_side == "church"
                                    else conflict.resolution_value)
            ids[conflict.field] = conflict.id
            if (conflict.resolution_side == "value" and not conflict.resolution_deletes
                    and to_json(church) != to_json(conflict.resolution_value)):
                lacks.add(conflict.field)
        if sent:
            deleted = any(value is DELETED for value in sent.values())
            yield ChurchChange(entity.entity, values["pco_id"], values["local_id"],
                               {} if deleted else sent, deleted=deleted, conflict_ids=ids,
                               church_lacks=frozenset(lacks))


@dataclass(frozen=True)
class Classification:
    """What `classify_changes` compared: the temp table holding its rows (`table`), whether it
    compared every linked record (`full`) or only the candidates (`looked_at`: how many), and,
    for a full comparison after an earlier run, how many records not in sync it found that the
    incremental path would not have looked at (`drifted`, 0 expected; the run plans them)."""
    entity: str
    table: str
    full: bool
    looked_at: int | None = None
    drifted: int | None = None


# The entities a push compares incrementally → their church table (`church_deletions.local_table`),
# the statement naming their records changed since a time (sync/sql/push/), and its parameters.
_CHANGED: Mapping[str, tuple[str, str, Mapping[str, str]]] = {
    "people": ("people", "push/people_changed", {}),
    "person_emails": ("person_emails", "push/contacts_changed", {"resource": "people/emails"}),
    "person_phones": ("person_phones", "push/contacts_changed", {"resource": "people/phone_numbers"}),
    "families": ("families", "push/families_changed", {}),
    "family_members": ("family_members", "push/family_members_changed", {}),
}


def watermark_key(entity: str) -> str:
    """The `load_watermarks` row of the push's comparison of `entity`."""
    return f"push:{entity}"


def classify_changes(conn: sa.Connection, entity: EntityFields, policies: Mapping[str, Policy], *,
                     advance: bool = True, full: bool = False) -> Classification:
    """Classify `entity`'s linked records once, for both `conflicts.record_conflicts(...,
    classified=...)` and `church_changes(..., classified=...)` (one three-way pass, not two):
    a temp table dropped at commit holding `three_way_sql`'s rows of the records not wholly in
    sync, and a bare row (only `pco_id`) for each other record with an open conflict, so that
    conflict is looked at and closed as moot.

    Incremental (issue 17 item 3): only the candidates are compared, the records that can differ
    from their base since the push's last comparison of `entity` (its watermark, 'push:<entity>'
    in `load_watermarks`): those the last comparison found not in sync (`push_unsettled`), those
    with an unapplied conflict, and those whose base, church row (or outbox row, or deletion) or
    PCO record changed since (sync/sql/push/). A record outside them was in sync then and nothing
    it is compared from changed, so it is in sync now. Every record is compared (`full`) when
    asked, when there is no watermark, or after the nightly full refresh, by the loads' rule
    (`incremental.full_refresh_finished_since` the watermark); a full comparison after an earlier
    one also counts the records not in sync that the candidates leave out (its drift check; the
    run plans them, which repairs them).

    With `advance` (a real run) the watermark and the records not in sync are written in this
    transaction, so they commit with the plan; without (a dry run, the field table) nothing is
    written. Entities without a statement of their changes are always compared in full."""
    table = f"push_three_way_{entity.entity}"
    changed = _CHANGED.get(entity.entity)
    if advance:
        # One planning of an entity at a time: each writes the whole set of records not in sync.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"push-plan:{entity.entity}"})
    since = snapshot_time(conn)
    previous = read_watermark(conn, watermark_key(entity.entity)) if changed else None
    compare_all = full or previous is None or full_refresh_finished_since(conn, previous.changed_since)
    candidates: str | None = None
    looked_at: int | None = None
    if changed is not None and previous is not None:
        candidates = _candidates(conn, entity.entity, changed, previous.changed_since)
    narrowed_to: str | None = None
    if candidates is not None and not compare_all:
        # Only a comparison narrowed to the candidates counts them and needs their statistics
        # (a full one reads them once, for its drift check).
        conn.execute(sa.text(f"ANALYZE {candidates}"))
        looked_at = conn.execute(sa.text(f"SELECT count(*) FROM {candidates}")).scalar_one()
        narrowed_to = f"SELECT pco_id FROM {candidates}"
    diff = three_way_sql(entity, policies, changed_only=True, candidates=narrowed_to)
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    conn.execute(sa.text(f"CREATE TEMP TABLE {table} ON COMMIT DROP AS {diff.text}"), {"entity": entity.entity})
    conn.execute(sa.text(f"""
        INSERT INTO {table} (pco_id)
        SELECT DISTINCT sc.pco_id FROM sync_conflicts sc
        WHERE sc.entity = :entity AND sc.decided_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM {table} d WHERE d.pco_id = sc.pco_id)"""), {"entity": entity.entity})
    drifted = None
    if compare_all and candidates is not None:
        drifted = conn.execute(sa.text(
            f"SELECT count(*) FROM {table} d WHERE d.pco_id NOT IN (SELECT pco_id FROM {candidates})")).scalar_one()
    if advance and changed is not None:
        conn.execute(sa.text(f"""
            DELETE FROM push_unsettled u WHERE u.entity = :entity
              AND NOT EXISTS (SELECT 1 FROM {table} d WHERE d.pco_id = u.pco_id)"""), {"entity": entity.entity})
        conn.execute(sa.text(f"""
            INSERT INTO push_unsettled (entity, pco_id) SELECT DISTINCT :entity, d.pco_id FROM {table} d
            ON CONFLICT DO NOTHING"""), {"entity": entity.entity})
        commit_watermark(conn, watermark_key(entity.entity), since, full=compare_all, drifted_records=drifted)
    return Classification(entity.entity, table, compare_all, looked_at, drifted)


def _candidates(conn: sa.Connection, entity: str, changed: tuple[str, str, Mapping[str, str]],
                since: datetime) -> str:
    """A temp table (dropped at commit; its name returned) of the PCO ids of `entity`'s records
    that can differ from their base since `since` (`classify_changes`)."""
    church_table, name, parameters = changed
    table = f"push_candidates_{entity}"
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    conn.execute(sa.text(f"CREATE TEMP TABLE {table} (pco_id text PRIMARY KEY) ON COMMIT DROP"))
    bound = {"entity": entity, "table": church_table, "since": since, **parameters}
    for part in ("push/common_changed", name):
        conn.execute(sa.text(f"INSERT INTO {table} SELECT s.pco_id FROM ({statement(part).text}) s(pco_id)"
                             " WHERE s.pco_id IS NOT NULL ON CONFLICT DO NOTHING"), bound)
    return table


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
    changed on its own way (its answer differs) keeps its base: the next load sees PCO's change.
    A field the church row lacks (`church_lacks`) keeps its base and its decision unapplied: the
    load writes the decided value into the church row, and the sides agree then."""
    if isinstance(confirmed, Missing):
        conflicts.mark_applied(conn, list(change.conflict_ids.values()))
        forget_base(conn, entity, change.pco_id)
        return
    agreed = {name: value for name, value in change.values.items()
              if name in confirmed and confirmed[name] == value and name not in change.church_lacks}
    if agreed:
        advance_base(conn, entity, change.pco_id, change.local_id, agreed)
    applied = [conflict_id for name, conflict_id in change.conflict_ids.items() if name in agreed]
    if applied:
        conflicts.mark_applied(conn, applied)
