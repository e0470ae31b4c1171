"""Asset checks on the church tables the inbound sync writes: per table the registry marks
(`Table.unique_pco_id`) a blocking check that no PCO id is held twice, per asset naming
quarantine entities a check on the open quarantine, and the checks particular to one entity."""

from collections.abc import Mapping

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.inbound.keys import church_key
from pco_pipeline.sync import quarantine
from pco_pipeline.sync.registry import Registry

# Open quarantine rows above this many for an entity warrant a look.
QUARANTINE_WARN_AT = 25


def _duplicate_check(asset: str, table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=church_key(asset), name=f"{table}_pco_id_unique", blocking=True,
                    description=f"No two {table} rows carry the same PCO id (a blocking check: downstream "
                                f"loads wait until it passes).")
    def _check(church_db: PostgresResource) -> dg.AssetCheckResult:
        with church_db.get_engine().connect() as conn:
            rows = conn.execute(sa.text(
                f"SELECT pco_id, count(*) FROM {table} WHERE pco_id IS NOT NULL"
                f" GROUP BY pco_id HAVING count(*) > 1 ORDER BY count(*) DESC, pco_id LIMIT 20")).all()
        return dg.AssetCheckResult(
            passed=not rows, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"duplicated_pco_ids": dg.MetadataValue.int(len(rows)),
                      "examples": ", ".join(f"{r[0]} ×{r[1]}" for r in rows) or "none"})

    return _check


def _quarantine_check(asset: str, entities: tuple[str, ...]) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=church_key(asset), name=f"{asset}_quarantine_size",
                    description=f"Open quarantine rows for {', '.join(entities)} stay under {QUARANTINE_WARN_AT}; "
                                f"the metadata lists the commonest reasons.")
    def _check(church_db: PostgresResource) -> dg.AssetCheckResult:
        with church_db.get_engine().connect() as conn:
            counts = quarantine.open_counts(conn)
            reasons = conn.execute(sa.text(
                "SELECT reason_code, count(*) FROM sync_quarantine WHERE resolved_at IS NULL"
                " AND entity = ANY(:e) GROUP BY reason_code ORDER BY count(*) DESC"), {"e": list(entities)}).all()
        open_rows = sum(counts.get(e, 0) for e in entities)
        return dg.AssetCheckResult(passed=open_rows < QUARANTINE_WARN_AT, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"open_rows": open_rows,
                                             "reasons": ", ".join(f"{r[0]}: {r[1]}" for r in reasons) or "none"})

    return _check


def _nothing_found_check(asset: str, name: str, description: str, counts: Mapping[str, str]
                         ) -> dg.AssetChecksDefinition:
    """A warning check that passes when every count query (metadata key → SQL) finds nothing."""
    @dg.asset_check(asset=church_key(asset), name=name, description=description)
    def _check(church_db: PostgresResource) -> dg.AssetCheckResult:
        with church_db.get_engine().connect() as conn:
            found = {key: conn.execute(sa.text(sql)).scalar_one() for key, sql in counts.items()}
        return dg.AssetCheckResult(passed=not any(found.values()), severity=dg.AssetCheckSeverity.WARN,
                                   metadata=found)

    return _check


def _no_orphan_family_members() -> dg.AssetChecksDefinition:
    return _nothing_found_check(
        "families", "no_orphan_family_members",
        "Every PCO family has members, and no PCO family still lists a person merged away or deactivated because "
        "PCO removed them.",
        {"families_without_members":
            "SELECT count(*) FROM families f WHERE f.pco_id IS NOT NULL AND f.pco_removed_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM family_members m WHERE m.family_id = f.id)",
         "members_removed_in_pco":
            "SELECT count(*) FROM family_members m JOIN families f ON f.id = m.family_id"
            " JOIN people p ON p.id = m.person_id"
            " WHERE f.pco_id IS NOT NULL AND p.pco_id IS NOT NULL AND NOT p.is_active"})


def _no_orphan_group_memberships() -> dg.AssetChecksDefinition:
    return _nothing_found_check(
        "group_memberships", "no_orphan_group_memberships",
        "No PCO-sourced membership points at a group PCO removed or a person PCO removed.",
        {"in_groups_removed_in_pco":
            "SELECT count(*) FROM group_membership m JOIN church_group g ON g.id = m.group_id"
            " WHERE m.source = 'pco' AND g.pco_removed_at IS NOT NULL",
         "of_people_removed_in_pco":
            "SELECT count(*) FROM group_membership m JOIN people p ON p.id = m.person_id"
            " WHERE m.source = 'pco' AND NOT p.is_active"})


# The checks particular to one entity, by the church/* asset they check (built per call: a
# module-level check would be collected by the code location on its own).
_ENTITY_CHECKS = {"families": _no_orphan_family_members, "group_memberships": _no_orphan_group_memberships}


def asset_checks(registry: Registry) -> list[dg.AssetChecksDefinition]:
    """Every check on the registry's church/* assets."""
    checks = []
    for entity in registry.entities:
        for table in entity.tables:
            if table.unique_pco_id:
                _, asset = registry.entity_of_table(table.entity)
                checks.append(_duplicate_check(asset.name, table.table))
        checks += [_quarantine_check(asset.name, asset.quarantine_check)
                   for asset in entity.assets if asset.quarantine_check]
    assets = {asset.name for asset in registry.church_assets}
    return checks + [build() for asset, build in _ENTITY_CHECKS.items() if asset in assets]
