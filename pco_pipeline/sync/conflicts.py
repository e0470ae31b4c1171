"""The conflicts of two-way sync (`sync_conflicts`): recorded from the three-way diff, listed,
resolved by staff, marked applied by the push or load that applied them. This module is the
table's only writer.

A conflict moves through: *open* (held for a person: `decided_at` is NULL) → *decided* (by a
policy when recorded, or by a person; `resolution_value` is what both sides must get) →
*applied* (`applied_at`: a push or load made both sides hold it). At most one conflict per
record field is not yet applied: seeing it again updates that row. An open conflict the diff no
longer sees (the sides now agree, or only one of them still differs from the base) is closed as
moot: nothing is left to decide.

A church change PCO's API cannot take (a family deleted in the church whose PCO household
remains) is recorded here too (`record_needs_action`, outcome `needs_action_in_pco`, with
`action_needed` saying what to do in PCO): open until staff say it is done in PCO (`resolve
--take church`), applied once the push no longer sees it. The church's change stands meanwhile
(policy `church`); nothing else applies such a row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.exc import DataError

from pco_pipeline.sync.merge import EntityFields, Outcome, Policy, all_in_sync_sql, three_way_sql
from pco_pipeline.sync.two_way_entities import ENTITIES

MOOT = "no longer in conflict"
NO_LONGER_NEEDED = "no longer needed in PCO"
NEEDS_ACTION = "needs_action_in_pco"


class ConflictError(ValueError):
    """A conflict cannot be resolved as asked; the message says why."""


@dataclass(frozen=True)
class Conflict:
    id: int
    entity: str
    local_id: int
    pco_id: str
    field: str
    base_value: object          # JSON value; None also when no base was known (see base_known)
    base_known: bool
    church_value: object        # JSON value; see church_deleted
    church_deleted: bool
    pco_value: object
    pco_deleted: bool
    church_changed_at: datetime | None
    pco_changed_at: datetime | None
    policy: Policy
    outcome: str                # church_wins | pco_wins | held | needs_action_in_pco
    detected_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    resolution_side: str | None
    resolution_value: object    # JSON value; see resolution_deletes
    resolution_deletes: bool    # the resolution is a deleted record (taking a side that deleted it)
    applied_at: datetime | None
    action_needed: str | None   # what staff must do in PCO (needs-action rows only)

    @property
    def is_moot(self) -> bool:
        """Closed because the sides no longer conflict (or PCO no longer needs the action): nothing
        was decided or is left to apply."""
        return self.decided_by in (MOOT, NO_LONGER_NEEDED)

    @property
    def needs_action(self) -> bool:
        """A church change PCO's API cannot take: a person makes it in PCO."""
        return self.outcome == NEEDS_ACTION

    @property
    def is_open(self) -> bool:
        return self.decided_at is None


_OUTCOME_COLUMN = {Outcome.CONFLICT_CHURCH_WINS: "church_wins", Outcome.CONFLICT_PCO_WINS: "pco_wins",
                   Outcome.CONFLICT_HELD: "held"}


def record_conflicts(conn: sa.Connection, entity: EntityFields, policies: Mapping[str, Policy], *,
                     classified: str | None = None) -> int:
    """Classify every linked record of `entity` (one set-based statement) and record each field in
    conflict: decided at once when its policy decides (`decided_by` 'policy <name>'), else open.
    Re-recording is idempotent; an open conflict's values are refreshed (and its decision taken
    when the policy changed); open conflicts no longer in conflict are closed as moot. Returns
    the number of conflicts inserted or refreshed.

    `classified` names a table a load already filled with `three_way_sql`'s rows for the records
    it looked at (`three_way_load.classify`): the conflicts are read from it, and only those
    records' open conflicts can be closed as moot."""
    if classified is None:
        diff = three_way_sql(entity, policies, changed_only=True).text
        looked_at = "true"
    else:
        diff = f"SELECT * FROM {classified} d WHERE NOT ({all_in_sync_sql(entity)})"
        looked_at = f"sc.pco_id IN (SELECT pco_id FROM {classified})"
    per_field = ", ".join(
        f"('{spec.name}', '{policies[spec.name].value}', d.{spec.name}__outcome, "
        f"to_jsonb(d.{spec.name}__base), d.{spec.name}__base_known, "
        f"to_jsonb(d.{spec.name}__church), to_jsonb(d.{spec.name}__pco))"
        for spec in entity.fields)
    outcome_case = " ".join(f"WHEN '{outcome}' THEN '{column}'" for outcome, column in _OUTCOME_COLUMN.items())
    statement = f"""
        WITH diff AS MATERIALIZED ({diff}),
        found AS (
            SELECT d.pco_id, d.local_id, d.church_present, d.pco_present, d.church_changed_at, d.pco_changed_at,
                   f.field, f.policy, CASE f.outcome {outcome_case} END AS outcome,
                   CASE WHEN f.base_known THEN COALESCE(f.base, 'null'::jsonb) END AS base_value,
                   CASE WHEN d.church_present THEN COALESCE(f.church, 'null'::jsonb) END AS church_value,
                   CASE WHEN d.pco_present THEN COALESCE(f.pco, 'null'::jsonb) END AS pco_value
            FROM diff d
            CROSS JOIN LATERAL (VALUES {per_field}) AS f(field, policy, outcome, base, base_known, church, pco)
            WHERE f.outcome IN ({', '.join(f"'{outcome}'" for outcome in _OUTCOME_COLUMN)})
        ),
        closed AS (
            UPDATE sync_conflicts sc
            SET decided_by = '{MOOT}', decided_at = now(), resolution_side = 'value',
                resolution_value = NULL, applied_at = now()
            WHERE sc.entity = :entity AND sc.decided_at IS NULL AND sc.outcome <> '{NEEDS_ACTION}' AND {looked_at}
              AND NOT EXISTS (SELECT 1 FROM found WHERE found.pco_id = sc.pco_id AND found.field = sc.field)
        )
        INSERT INTO sync_conflicts AS sc (
            entity, local_id, pco_id, field, base_value, church_value, pco_value, church_changed_at,
            pco_changed_at, policy, outcome, decided_by, decided_at, resolution_side, resolution_value)
        SELECT :entity, local_id, pco_id, field, base_value, church_value, pco_value, church_changed_at,
               pco_changed_at, policy, outcome,
               CASE WHEN outcome <> 'held' THEN 'policy ' || policy END,
               CASE WHEN outcome <> 'held' THEN now() END,
               CASE outcome WHEN 'church_wins' THEN 'church' WHEN 'pco_wins' THEN 'pco' END,
               CASE outcome WHEN 'church_wins' THEN church_value WHEN 'pco_wins' THEN pco_value END
        FROM found
        ON CONFLICT (entity, pco_id, field) WHERE applied_at IS NULL DO UPDATE
            SET local_id = EXCLUDED.local_id, base_value = EXCLUDED.base_value,
                church_value = EXCLUDED.church_value, pco_value = EXCLUDED.pco_value,
                church_changed_at = EXCLUDED.church_changed_at, pco_changed_at = EXCLUDED.pco_changed_at,
                policy = EXCLUDED.policy, outcome = EXCLUDED.outcome, decided_by = EXCLUDED.decided_by,
                decided_at = EXCLUDED.decided_at, resolution_side = EXCLUDED.resolution_side,
                resolution_value = EXCLUDED.resolution_value
            WHERE sc.decided_at IS NULL
    """
    return conn.execute(sa.text(statement), {"entity": entity.entity}).rowcount


_COLUMNS = ("id, entity, local_id, pco_id, field, base_value, base_value IS NOT NULL AS base_known, church_value, "
            "church_value IS NULL AS church_deleted, pco_value, pco_value IS NULL AS pco_deleted, "
            "church_changed_at, pco_changed_at, policy, outcome, detected_at, decided_by, decided_at, "
            "resolution_side, resolution_value, "
            "resolution_side IS NOT NULL AND resolution_value IS NULL AS resolution_deletes, applied_at, action_needed")


def _conflict(row: sa.Row) -> Conflict:
    values = dict(row._mapping)
    values["policy"] = Policy(values["policy"])
    return Conflict(**values)


def list_conflicts(conn: sa.Connection, *, open_only: bool = False, limit: int = 200) -> list[Conflict]:
    """Open conflicts oldest first (`open_only`), else every conflict newest first; at most `limit`."""
    if open_only:
        query = f"SELECT {_COLUMNS} FROM sync_conflicts WHERE decided_at IS NULL ORDER BY detected_at, id LIMIT :n"
    else:
        query = f"SELECT {_COLUMNS} FROM sync_conflicts ORDER BY id DESC LIMIT :n"
    return [_conflict(row) for row in conn.execute(sa.text(query), {"n": limit})]


def get_conflict(conn: sa.Connection, conflict_id: int) -> Conflict | None:
    row = conn.execute(sa.text(f"SELECT {_COLUMNS} FROM sync_conflicts WHERE id = :id"), {"id": conflict_id}).first()
    return _conflict(row) if row else None


def resolve_conflict(conn: sa.Connection, conflict_id: int, *, decided_by: str,
                     take: Literal["church", "pco"] | None = None, value: str | None = None,
                     entities: Mapping[str, EntityFields] = ENTITIES) -> Conflict:
    """Decide an open conflict: take one side's value (a deleted side: the record stays deleted)
    or give `value` (text, read as the field's type). Records who and when; the resolution is
    what the next push or load applies. A needs-action row takes only `take="church"`: staff made
    the church's change in PCO (it is applied once the push no longer sees it). Raises
    ConflictError when the conflict does not exist, is already decided, `value` is not valid for
    the field, or not exactly one of take/value is given."""
    if (take is None) == (value is None):
        raise ConflictError("say which value wins: take church, take pco, or give a value")
    conflict = conn.execute(sa.text(f"SELECT {_COLUMNS} FROM sync_conflicts WHERE id = :id FOR UPDATE"),
                            {"id": conflict_id}).first()
    if conflict is None:
        raise ConflictError(f"no conflict {conflict_id}")
    current = _conflict(conflict)
    if not current.is_open:
        raise ConflictError(f"conflict {conflict_id} was already decided by {current.decided_by} "
                            f"at {current.decided_at:%Y-%m-%d %H:%M:%S %Z}")
    if current.needs_action and take != "church":
        raise ConflictError(f"conflict {conflict_id} is a change PCO's API cannot take: {current.action_needed}. "
                            "Once it is done in PCO, resolve it with --take church")
    if take is not None:
        resolution = "church_value" if take == "church" else "pco_value"
        conn.execute(sa.text(f"""
            UPDATE sync_conflicts SET decided_by = :by, decided_at = now(), resolution_side = :side,
                                      resolution_value = {resolution}
            WHERE id = :id"""), {"by": decided_by, "side": take, "id": conflict_id})
    else:
        sql_type = _field_type(entities, current.entity, current.field)
        try:
            with conn.begin_nested():
                conn.execute(sa.text(f"""
                    UPDATE sync_conflicts SET decided_by = :by, decided_at = now(), resolution_side = 'value',
                                              resolution_value = to_jsonb(CAST(:value AS {sql_type}))
                    WHERE id = :id"""), {"by": decided_by, "value": value, "id": conflict_id})
        except DataError:
            raise ConflictError(f"{value!r} is not a valid {sql_type} for {current.entity}.{current.field}") from None
    resolved = get_conflict(conn, conflict_id)
    assert resolved is not None
    return resolved


def _field_type(entities: Mapping[str, EntityFields], entity: str, field: str) -> str:
    declared = entities.get(entity)
    for spec in declared.fields if declared else ():
        if spec.name == field:
            return spec.sql_type
    raise ConflictError(f"{entity}.{field} is no longer a synced field: take a side instead of a value")


@dataclass(frozen=True)
class Waiting:
    """Open conflicts held for a person longer than some age: how many, and since when the oldest."""
    count: int
    oldest_detected_at: datetime | None


def held_longer_than(conn: sa.Connection, age: timedelta, entities: Sequence[str] | None = None) -> Waiting:
    """The open conflicts (of `entities`, when given) detected more than `age` ago (what the asset
    check on waiting manual conflicts reports; changes needing action in PCO are not conflicts
    held for a decision)."""
    count, oldest = conn.execute(sa.text(f"""
        SELECT count(*), min(detected_at) FROM sync_conflicts
        WHERE decided_at IS NULL AND outcome <> '{NEEDS_ACTION}' AND detected_at < now() - :age
          AND (CAST(:entities AS text[]) IS NULL OR entity = ANY(CAST(:entities AS text[])))"""),
        {"age": age, "entities": None if entities is None else list(entities)}).one()
    return Waiting(count, oldest)


def decided_to_apply(conn: sa.Connection, entity: str) -> list[Conflict]:
    """Conflicts of `entity` decided (by a policy or a person) and not yet applied, oldest first
    (not the needs-action rows: staff made those in PCO; there is nothing to send or load)."""
    rows = conn.execute(sa.text(f"""
        SELECT {_COLUMNS} FROM sync_conflicts
        WHERE entity = :entity AND decided_at IS NOT NULL AND applied_at IS NULL AND outcome <> '{NEEDS_ACTION}'
        ORDER BY id"""), {"entity": entity})
    return [_conflict(row) for row in rows]


def mark_held_by_both(conn: sa.Connection, entity: EntityFields) -> int:
    """Mark applied every decided, not yet applied conflict of `entity` whose resolution both
    sides now hold (the church row and PCO's record as `entity`'s relations read them; a load
    passes relations narrowed to the records it looked at). Returns how many were marked."""
    value_of = " ".join(f"WHEN '{spec.name}' THEN COALESCE(to_jsonb({{side}}.{spec.name}), 'null'::jsonb)"
                        for spec in entity.fields)
    return conn.execute(sa.text(f"""
        UPDATE sync_conflicts sc SET applied_at = now()
        FROM ({entity.church_relation_sql}) c JOIN ({entity.pco_relation_sql}) p ON p.pco_id = c.pco_id
        WHERE sc.entity = :entity AND sc.decided_at IS NOT NULL AND sc.applied_at IS NULL
          AND sc.resolution_value IS NOT NULL AND c.pco_id = sc.pco_id
          AND (CASE sc.field {value_of.format(side="c")} END) = sc.resolution_value
          AND (CASE sc.field {value_of.format(side="p")} END) = sc.resolution_value
    """), {"entity": entity.entity}).rowcount


def mark_applied(conn: sa.Connection, conflict_ids: Sequence[int]) -> int:
    """Record that both sides now hold these conflicts' resolutions; returns how many were marked."""
    return conn.execute(sa.text("""
        UPDATE sync_conflicts SET applied_at = now()
        WHERE id = ANY(:ids) AND decided_at IS NOT NULL AND applied_at IS NULL"""),
                        {"ids": list(conflict_ids)}).rowcount


@dataclass(frozen=True)
class NeedsAction:
    """One church change PCO's API cannot take, on one record field: the church's and PCO's
    values (JSON values; `church_deleted`: the church deleted the record) and what staff must
    do in PCO."""
    local_id: int
    pco_id: str
    church_value: object
    pco_value: object
    action_needed: str
    church_deleted: bool = False


def record_needs_action(conn: sa.Connection, entity: str, field: str, found: Sequence[NeedsAction]) -> int:
    """Record what a push found PCO's API cannot take for `entity`'s `field` (all of it: `found`
    is the push's whole list). Each is one open row, recorded once: seeing it again refreshes
    the open row (a row staff resolved stays resolved). Rows of that entity field no longer
    found (PCO now matches the church) are applied, and closed if still open. Returns the
    number of rows inserted or refreshed."""
    items = [{"local_id": item.local_id, "pco_id": item.pco_id, "action": item.action_needed,
              "church": None if item.church_deleted else json.dumps(item.church_value),
              "pco": json.dumps(item.pco_value)} for item in found]
    conn.execute(sa.text(f"""
        UPDATE sync_conflicts
        SET decided_by = COALESCE(decided_by, '{NO_LONGER_NEEDED}'), decided_at = COALESCE(decided_at, now()),
            resolution_side = COALESCE(resolution_side, 'church'),
            resolution_value = CASE WHEN decided_at IS NULL THEN church_value ELSE resolution_value END,
            applied_at = now()
        WHERE entity = :entity AND field = :field AND outcome = '{NEEDS_ACTION}' AND applied_at IS NULL
          AND NOT pco_id = ANY(CAST(:seen AS text[]))"""),
        {"entity": entity, "field": field, "seen": [item.pco_id for item in found]})
    if not items:
        return 0
    return conn.execute(sa.text(f"""
        INSERT INTO sync_conflicts AS sc (entity, local_id, pco_id, field, church_value, pco_value, policy, outcome,
                                          action_needed)
        SELECT :entity, f.local_id, f.pco_id, :field, CAST(f.church AS jsonb), CAST(f.pco AS jsonb), 'church',
               '{NEEDS_ACTION}', f.action
        FROM jsonb_to_recordset(CAST(:items AS jsonb)) AS f(local_id bigint, pco_id text, action text, church text,
                                                            pco text)
        ON CONFLICT (entity, pco_id, field) WHERE applied_at IS NULL DO UPDATE
            SET local_id = EXCLUDED.local_id, church_value = EXCLUDED.church_value, pco_value = EXCLUDED.pco_value,
                action_needed = EXCLUDED.action_needed
            WHERE sc.decided_at IS NULL AND sc.outcome = '{NEEDS_ACTION}'
              AND (sc.church_value, sc.pco_value, sc.action_needed)
                  IS DISTINCT FROM (EXCLUDED.church_value, EXCLUDED.pco_value, EXCLUDED.action_needed)"""),
        {"entity": entity, "field": field, "items": json.dumps(items)}).rowcount
