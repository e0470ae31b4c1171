"""The three-way rule as the loads apply it (issue 16 item 6): a load writes PCO's value into a
linked church row only where PCO changed the field since the two sides last agreed.

A load of a two-way entity, in its transaction:
1. `classify` the linked records it staged (one set-based `merge.three_way_sql` statement, PCO's
   side read from the load's stage table) into a temp table, one row per record;
2. record the conflicts from it (`conflicts.record_conflicts(..., classified=...)`), before any
   write makes the two sides look alike;
3. write each field with `field_value_sql`: PCO's value where the outcome takes it (`take_pco`,
   `conflict_pco_wins`), the church's everywhere else (`send_church`, `conflict_church_wins`,
   `conflict_held`: the church's change survives until the push or a person settles it);
4. `apply_resolutions`: what staff decided with `conflicts resolve --take pco` or `--value` is
   written into the church row;
5. `settle`: the base moves to every value the two sides now share, and the decided conflicts
   both sides now hold are marked applied.

A linked record with no base yet (the first two-way run after upgrading, before anything was
agreed) keeps the behaviour loads had before two-way sync: PCO's values are taken and no conflict
is recorded, unless the church row changed after PCO's record did (then the church may have an
edit of its own, and the fields that differ are conflicts decided by their policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import sqlalchemy as sa

from pco_pipeline.sync import conflicts, safety_brake
from pco_pipeline.sync.base import advance_agreed
from pco_pipeline.sync.merge import EntityFields, FieldSpec, Outcome, Policy, all_in_sync_sql, three_way_sql

TAKES_PCO = (Outcome.TAKE_PCO, Outcome.CONFLICT_PCO_WINS)
_CONFLICTS = (Outcome.CONFLICT_CHURCH_WINS, Outcome.CONFLICT_PCO_WINS, Outcome.CONFLICT_HELD)


def staged(entity: EntityFields, stage_table: str, *, changed_at_sql: str = "s.pco_updated_at") -> EntityFields:
    """`entity` narrowed to the records a load staged: PCO's side is the stage table (alias `s`,
    holding `pco_id` and the fields; `changed_at_sql` is PCO's change time over it) and the
    church's side its linked rows carrying those PCO ids."""
    columns = ", ".join(f"s.{spec.name}" for spec in entity.fields)
    return replace(
        entity,
        church_relation_sql=(f"SELECT * FROM ({entity.church_relation_sql}) c "
                             f"WHERE c.pco_id IN (SELECT pco_id FROM {stage_table})"),
        pco_relation_sql=f"SELECT s.pco_id, {changed_at_sql} AS changed_at, {columns} FROM {stage_table} s")


def classified_table(entity: EntityFields) -> str:
    return f"three_way_{entity.entity}"


def classify(conn: sa.Connection, entity: EntityFields, policies: Mapping[str, Policy], *,
             deleted_in_pco: bool = False, changed_only: bool = False) -> str:
    """Classify every record both of `entity`'s relations hold (a `staged` entity: what the load
    looks at) into a temp table dropped at commit, whose name it returns: `three_way_sql`'s
    columns, one row per record, with the no-base exception of the module docstring applied.
    With `deleted_in_pco`, the records the church's relation holds and PCO's does not (`entity`
    narrowed to the records PCO deleted; see `pco_deletions`). With `changed_only`, the table
    leaves out the records wholly in sync that no unapplied conflict names (the load has nothing
    to do for them: a statement joining the table must read a missing row as in sync, e.g. with
    a LEFT JOIN, and `settle` must be told). Raises `SafetyBrakeEngaged` when the load would
    give too many of the church's linked records PCO's values (`safety_brake.check_load`)."""
    table = classified_table(entity) + ("_deleted_in_pco" if deleted_in_pco else "")
    diff = three_way_sql(entity, policies).text
    present = "d.church_present AND NOT d.pco_present" if deleted_in_pco else "d.church_present AND d.pco_present"
    if changed_only:
        # Materializing every linked record (tens of columns each) was most of an idle load's cost.
        # A record an unapplied conflict names stays: its decision is applied or closed as moot.
        present += (f" AND (NOT ({all_in_sync_sql(entity)}) OR d.pco_id IN (SELECT sc.pco_id FROM sync_conflicts sc"
                    " WHERE sc.entity = :entity AND sc.applied_at IS NULL))")
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    conn.execute(sa.text(f"CREATE TEMP TABLE {table} ON COMMIT DROP AS SELECT * FROM ({diff}) d WHERE {present}"),
                 {"entity": entity.entity})
    no_base = " AND ".join(f"NOT d.{spec.name}__base_known" for spec in entity.fields)
    conflict = ", ".join(f"'{outcome}'" for outcome in _CONFLICTS)
    first_sync = ", ".join(
        f"{spec.name}__outcome = CASE WHEN d.{spec.name}__outcome IN ({conflict}) "
        f"THEN '{Outcome.TAKE_PCO}' ELSE d.{spec.name}__outcome END" for spec in entity.fields)
    conn.execute(sa.text(f"UPDATE {table} d SET {first_sync} "
                         f"WHERE {no_base} AND NOT COALESCE(d.church_changed_at > d.pco_changed_at, false)"))
    _keep_decisions(conn, entity, table)
    conn.execute(sa.text(f"ANALYZE {table}"))
    safety_brake.check_load(conn, entity, table, deleted_in_pco=deleted_in_pco)
    return table


def _keep_decisions(conn: sa.Connection, entity: EntityFields, table: str) -> None:
    """A decided conflict not yet applied stands whatever the policy says now: the church's side
    keeps the church's value (`conflict_church_wins`) until the push applies it; a person's
    `take pco` or value is written by `apply_resolutions`, not taken from PCO's current record
    (`take pco` of a record PCO deleted: the deletion, `conflict_pco_wins`).
    (A policy's `pco` decision is this load's own to apply.)"""
    kept = ", ".join(
        f"{spec.name}__outcome = CASE x.sides ->> '{spec.name}' "
        f"WHEN 'church' THEN '{Outcome.CONFLICT_CHURCH_WINS}' "
        f"WHEN 'pco' THEN CASE WHEN d.pco_present THEN '{Outcome.CONFLICT_HELD}' "
        f"ELSE '{Outcome.CONFLICT_PCO_WINS}' END "
        f"WHEN 'value' THEN '{Outcome.CONFLICT_HELD}' ELSE d.{spec.name}__outcome END" for spec in entity.fields)
    conn.execute(sa.text(f"""
        UPDATE {table} d SET {kept}
        FROM (SELECT sc.pco_id, jsonb_object_agg(sc.field, sc.resolution_side) AS sides
              FROM sync_conflicts sc
              WHERE sc.entity = :entity AND sc.decided_at IS NOT NULL AND sc.applied_at IS NULL
                AND NOT (sc.decided_by LIKE 'policy %' AND sc.resolution_side = 'pco')
              GROUP BY sc.pco_id) x
        WHERE x.pco_id = d.pco_id"""), {"entity": entity.entity})


def pco_deletions(entity: EntityFields, staged_entity: EntityFields, deleted_sql: str) -> EntityFields:
    """`entity` narrowed to the linked church records whose PCO id `deleted_sql` (a SELECT of
    `pco_id`s) names as deleted in PCO, PCO's side read from the load's stage (`staged_entity`,
    which does not hold them), for `classify(..., deleted_in_pco=True)`."""
    return replace(entity, pco_relation_sql=staged_entity.pco_relation_sql,
                   church_relation_sql=(f"SELECT * FROM ({entity.church_relation_sql}) c "
                                        f"WHERE c.pco_id IN ({deleted_sql})"))


def kept_against_pco_deletion(conn: sa.Connection, entity: EntityFields, classified: str) -> list[str]:
    """The PCO ids of the records PCO deleted that the church keeps: a field the church changed
    is a conflict its policy gave the church or holds for a person."""
    kept = ", ".join(f"'{outcome}'" for outcome in (Outcome.CONFLICT_CHURCH_WINS, Outcome.CONFLICT_HELD))
    return list(conn.execute(sa.text(
        f"SELECT d.pco_id FROM {classified} d WHERE "
        + " OR ".join(f"d.{spec.name}__outcome IN ({kept})" for spec in entity.fields))).scalars())


def kept_deleted_in_church(conn: sa.Connection, entity: EntityFields, policies: Mapping[str, Policy],
                           deleted_sql: str) -> list[str]:
    """Of the records `deleted_sql` (a SELECT of `pco_id`s) names as deleted in the church and not
    yet deleted in PCO by the push, the PCO ids a load must not bring back from `entity` (a
    `staged` entity: PCO's side is what the load staged). By the three-way rule a deletion of a
    record PCO did not change since the base stays, and the push sends it; one PCO changed is a
    conflict, recorded here, and the record comes back only when PCO's side wins it. A record
    with no base was never agreed on: it is not weighed (the push does not delete it either)."""
    table = classified_table(entity) + "_deleted_in_church"
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    # Every side, the base included, narrowed to the deleted records (filtered after the comparison,
    # it compared every record of the entity: 23-28 s per contact entity at 10,000 people).
    conn.execute(sa.text(f"CREATE TEMP TABLE {table} ON COMMIT DROP AS SELECT * FROM "
                         f"({three_way_sql(entity, policies, candidates=deleted_sql).text}) d"
                         " WHERE NOT d.church_present AND d.pco_present"), {"entity": entity.entity})
    conflicts.record_conflicts(conn, entity, policies, classified=table)
    return list(conn.execute(sa.text(
        f"SELECT d.pco_id FROM {table} d WHERE NOT ("
        + " OR ".join(takes_pco_sql(spec) for spec in entity.fields) + ")")).scalars())


def acting_sql(entity: EntityFields, classified: str = "d") -> str:
    """True when a load does something for the classified record: a field it takes or agrees on
    (the base moves), or a conflict (recorded, or decided). A record the church alone changed
    (`send_church`, the push's to send) or wholly in sync is not."""
    idle = ", ".join(f"'{outcome}'" for outcome in (Outcome.IN_SYNC, Outcome.SEND_CHURCH))
    return "(" + " OR ".join(f"{classified}.{spec.name}__outcome NOT IN ({idle})" for spec in entity.fields) + ")"


def takes_pco_sql(spec: FieldSpec, classified: str = "d") -> str:
    """True when the church row must be given PCO's value of the field (SQL over the classified row)."""
    return f"{classified}.{spec.name}__outcome IN ({', '.join(repr(str(o)) for o in TAKES_PCO)})"


def field_value_sql(spec: FieldSpec, row: str, classified: str = "d") -> str:
    """The value a load writes into `row`'s column for the field: PCO's where the outcome takes it,
    the church row's own otherwise."""
    return f"CASE WHEN {takes_pco_sql(spec, classified)} THEN {classified}.{spec.name}__pco ELSE {row}.{spec.name} END"


def any_taken_sql(entity: EntityFields, row: str, classified: str = "d") -> str:
    """True when the load changes at least one field of `row` (a field it takes differs)."""
    return "(" + " OR ".join(f"({takes_pco_sql(spec, classified)} AND {row}.{spec.name} IS DISTINCT FROM "
                             f"{classified}.{spec.name}__pco)" for spec in entity.fields) + ")"


def apply_resolutions(conn: sa.Connection, entity: EntityFields, table: str) -> int:
    """Write into the church `table` (rows keyed by `id` = the conflict's local_id) what staff
    decided for a conflict of `entity` with `take pco` or a value, for the records the load looked
    at; returns the number of fields written. (A side a policy chose is already the outcome of
    `classify`; a resolution that the record stays deleted is not a field value.)"""
    written = 0
    pending = conn.execute(sa.text(f"""
        SELECT DISTINCT sc.field FROM sync_conflicts sc
        WHERE sc.entity = :entity AND sc.decided_at IS NOT NULL AND sc.applied_at IS NULL
          AND sc.resolution_side IN ('pco', 'value') AND sc.resolution_value IS NOT NULL
          AND sc.decided_by NOT LIKE 'policy %'
          AND sc.pco_id IN (SELECT pco_id FROM {classified_table(entity)})"""),
        {"entity": entity.entity}).scalars().all()
    for spec in entity.fields:
        if spec.name not in pending:
            continue
        value = ("NULLIF(sc.resolution_value, 'null'::jsonb)" if spec.sql_type == "jsonb"
                 else f"CAST(sc.resolution_value #>> '{{}}' AS {spec.sql_type})")
        written += conn.execute(sa.text(f"""
            UPDATE {table} t SET {spec.name} = {value}
            FROM sync_conflicts sc
            WHERE sc.entity = :entity AND sc.field = :field AND sc.decided_at IS NOT NULL
              AND sc.applied_at IS NULL AND sc.resolution_side IN ('pco', 'value')
              AND sc.resolution_value IS NOT NULL AND sc.decided_by NOT LIKE 'policy %'
              AND sc.pco_id IN (SELECT pco_id FROM {classified_table(entity)})
              AND t.id = sc.local_id AND t.{spec.name} IS DISTINCT FROM {value}"""),
            {"entity": entity.entity, "field": spec.name}).rowcount
    return written


def settle(conn: sa.Connection, entity: EntityFields, *, changed_only: bool = False) -> None:
    """After the load's writes: the base of every field the two sides now share moves to it, and
    the decided conflicts both sides now hold are marked applied (`entity` and `changed_only` as
    given to `classify`). Records `classify` found wholly in sync are skipped: the load left them
    alone and their base already holds every value. With `changed_only` (they are not in the
    table), the records settled are the classified ones and those with no base for their church
    row (linked or created by this load)."""
    table = classified_table(entity)
    if changed_only:
        skip = (f"EXISTS (SELECT 1 FROM sync_base b WHERE b.entity = '{entity.entity}' AND b.pco_id = c.pco_id"
                f" AND b.local_id = c.local_id) AND NOT EXISTS (SELECT 1 FROM {table} d WHERE d.pco_id = c.pco_id)")
    else:
        skip = f"EXISTS (SELECT 1 FROM {table} d WHERE d.pco_id = c.pco_id AND {all_in_sync_sql(entity)})"
    changed = replace(entity, church_relation_sql=f"SELECT * FROM ({entity.church_relation_sql}) c WHERE NOT ({skip})")
    advance_agreed(conn, changed)
    conflicts.mark_held_by_both(conn, changed)
