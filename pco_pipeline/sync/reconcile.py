"""Does the church database mirror PCO? A per-entity comparison with PCO's landed state.

PCO's state is the landing table (best after complete listings), mapped by the same
`pco_state` views the loads use. What is compared is declared in the entity registry
(`registry.py`: each table's PCO side, church side and PCO-owned fields). For each entity it
reports PCO records missing locally, local mirror rows PCO does not have (or no longer has), and
records whose PCO-owned fields differ, with examples. Records quarantined (open rows in `sync_quarantine`, or records
whose data cannot be stored) are left out of the comparison and counted separately: they are
known, explained differences.

Only what the sync owns is compared: local-only people, contacts, memberships and check-ins,
and church-owned fields, are not differences. Nor is a linked record the church deleted once the
push has carried the deletion out (`church_deletions.pushed_at`): PCO may keep it (a person is
made inactive there, not deleted, and stays in their PCO household), and both sides then agree
that the church no longer has it, nor the records PCO keeps under that person.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from pco_pipeline.sync.registry import DEFAULT, Comparison, Registry


@dataclass(frozen=True)
class FieldDifference:
    pco_id: str
    field: str
    pco_value: str | None
    local_value: str | None


@dataclass
class EntityReconciliation:
    """How one entity compares; `in_sync` ignores quarantined records (they are explained)."""

    entity: str
    pco_count: int = 0
    local_count: int = 0
    missing_locally: int = 0
    extra_locally: int = 0
    differing: int = 0
    quarantined: int = 0
    field_differences: dict[str, int] = field(default_factory=dict)
    missing_examples: list[str] = field(default_factory=list)
    extra_examples: list[str] = field(default_factory=list)
    difference_examples: list[FieldDifference] = field(default_factory=list)

    @property
    def in_sync(self) -> bool:
        return self.missing_locally == 0 and self.extra_locally == 0 and self.differing == 0


@dataclass
class Reconciliation:
    entities: dict[str, EntityReconciliation]

    @property
    def in_sync(self) -> bool:
        return all(e.in_sync for e in self.entities.values())

    def table(self) -> str:
        """A markdown table: one line per entity."""
        lines = ["| entity | PCO | local | missing | extra | differing | quarantined |",
                 "|---|---:|---:|---:|---:|---:|---:|"]
        for e in self.entities.values():
            lines.append(f"| {e.entity} | {e.pco_count} | {e.local_count} | {e.missing_locally} | "
                         f"{e.extra_locally} | {e.differing} | {e.quarantined} |")
        return "\n".join(lines)


def _compare(conn: sa.Connection, comparison: Comparison, table: str, examples: int) -> EntityReconciliation:
    """`table`: the church table holding the entity (as `church_deletions` names it)."""
    excluded = ("EXISTS (SELECT 1 FROM sync_quarantine q WHERE q.entity = :entity AND q.resolved_at IS NULL"
                " AND q.record_key = {alias}.pco_id)")
    # to_jsonb: only the expected rows of a person's records (emails, memberships…) have person_pco_id.
    deleted = ("EXISTS (SELECT 1 FROM church_deletions d WHERE d.pushed_at IS NOT NULL"
               " AND ((d.local_table = :table AND d.pco_id = x.pco_id)"
               "      OR (d.local_table = 'people' AND d.pco_id = to_jsonb(x) ->> 'person_pco_id')))")
    ctes = (f"WITH expected_all AS ({comparison.expected_sql}),"
            f" e AS (SELECT * FROM expected_all x WHERE x.problems IS NULL AND NOT {excluded.format(alias='x')}"
            f"       AND NOT {deleted}),"
            f" l AS (SELECT * FROM ({comparison.local_sql}) y WHERE NOT {excluded.format(alias='y')}"
            f"       AND NOT EXISTS (SELECT 1 FROM expected_all x WHERE x.pco_id = y.pco_id"
            f"                       AND x.problems IS NOT NULL))")
    flags = ", ".join(f"count(*) FILTER (WHERE e.pco_id IS NOT NULL AND l.pco_id IS NOT NULL AND ({predicate}))"
                      for predicate in comparison.fields.values())
    any_differs = " OR ".join(f"({predicate})" for predicate in comparison.fields.values())
    params = {"entity": comparison.entity, "table": table, "n": examples}
    row = conn.execute(sa.text(f"""
        {ctes}
        SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM l),
               count(*) FILTER (WHERE l.pco_id IS NULL), count(*) FILTER (WHERE e.pco_id IS NULL),
               count(*) FILTER (WHERE e.pco_id IS NOT NULL AND l.pco_id IS NOT NULL AND ({any_differs})),
               {flags}
        FROM e FULL JOIN l ON l.pco_id = e.pco_id
        """), params).one()
    report = EntityReconciliation(comparison.entity, pco_count=row[0], local_count=row[1], missing_locally=row[2],
                                  extra_locally=row[3], differing=row[4])
    report.field_differences = {name: n for name, n in zip(comparison.fields, row[5:]) if n}
    report.quarantined = conn.execute(sa.text(
        "SELECT count(*) FROM sync_quarantine WHERE entity = :entity AND resolved_at IS NULL"),
        params).scalar_one()
    if report.missing_locally:
        report.missing_examples = list(conn.execute(sa.text(
            f"{ctes} SELECT e.pco_id FROM e WHERE NOT EXISTS (SELECT 1 FROM l WHERE l.pco_id = e.pco_id)"
            " ORDER BY length(e.pco_id), e.pco_id LIMIT :n"), params).scalars())
    if report.extra_locally:
        report.extra_examples = list(conn.execute(sa.text(
            f"{ctes} SELECT l.pco_id FROM l WHERE NOT EXISTS (SELECT 1 FROM e WHERE e.pco_id = l.pco_id)"
            " ORDER BY length(l.pco_id), l.pco_id LIMIT :n"), params).scalars())
    for name in report.field_differences:
        predicate = comparison.fields[name]
        for pco_id, pco_value, local_value in conn.execute(sa.text(
                f"{ctes} SELECT e.pco_id, CAST(e.{name} AS text), CAST(l.{name} AS text)"
                f" FROM e JOIN l ON l.pco_id = e.pco_id WHERE {predicate}"
                " ORDER BY length(e.pco_id), e.pco_id LIMIT :n"), params):
            report.difference_examples.append(FieldDifference(pco_id, name, pco_value, local_value))
    return report


def reconcile(engine: sa.Engine, *, examples: int = 5, registry: Registry = DEFAULT) -> Reconciliation:
    """Compare every entity `registry` declares a comparison for with PCO's landed state (one
    consistent snapshot)."""
    tables = {t.entity: t.table for entity in registry.entities for t in entity.tables}
    with engine.connect() as conn:
        conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        entities = {c.entity: _compare(conn, c, tables[c.entity], examples) for c in registry.comparisons}
        conn.rollback()
    return Reconciliation(entities)
