"""Asset checks on the church tables the inbound sync writes."""

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.inbound.asset_graph import church_key
from pco_pipeline.defs.pco.resources import PCO_API_POOL, PCOResource
from pco_pipeline.sync import quarantine

# church asset -> table whose pco_id must be unique
PCO_ID_TABLES = {"people": "people", "families": "families", "church_groups": "church_group",
                 "events": "events", "locations": "locations", "checkins": "checkins",
                 "group_memberships": "group_membership"}
# Open quarantine rows above this many for an entity warrant a look.
QUARANTINE_WARN_AT = 25
COUNT_TOLERANCE = (5, 0.01)  # absolute, relative: whichever is larger


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


duplicate_checks = [_duplicate_check(asset, table) for asset, table in PCO_ID_TABLES.items()]


@dg.asset_check(asset=church_key("families"), name="no_orphan_family_members",
                description="Every PCO family has members, and no PCO family still lists a person merged away "
                            "or deactivated because PCO removed them.")
def no_orphan_family_members(church_db: PostgresResource) -> dg.AssetCheckResult:
    with church_db.get_engine().connect() as conn:
        empty = conn.execute(sa.text(
            "SELECT count(*) FROM families f WHERE f.pco_id IS NOT NULL AND f.pco_removed_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM family_members m WHERE m.family_id = f.id)")).scalar_one()
        stale = conn.execute(sa.text(
            "SELECT count(*) FROM family_members m JOIN families f ON f.id = m.family_id"
            " JOIN people p ON p.id = m.person_id"
            " WHERE f.pco_id IS NOT NULL AND p.pco_id IS NOT NULL AND NOT p.is_active")).scalar_one()
    return dg.AssetCheckResult(passed=empty == 0 and stale == 0, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"families_without_members": empty,
                                         "members_removed_in_pco": stale})


@dg.asset_check(asset=church_key("group_memberships"), name="no_orphan_group_memberships",
                description="No PCO-sourced membership points at a group PCO removed or a person PCO removed.")
def no_orphan_group_memberships(church_db: PostgresResource) -> dg.AssetCheckResult:
    with church_db.get_engine().connect() as conn:
        removed_group = conn.execute(sa.text(
            "SELECT count(*) FROM group_membership m JOIN church_group g ON g.id = m.group_id"
            " WHERE m.source = 'pco' AND g.pco_removed_at IS NOT NULL")).scalar_one()
        removed_person = conn.execute(sa.text(
            "SELECT count(*) FROM group_membership m JOIN people p ON p.id = m.person_id"
            " WHERE m.source = 'pco' AND NOT p.is_active")).scalar_one()
    return dg.AssetCheckResult(passed=removed_group == 0 and removed_person == 0,
                               severity=dg.AssetCheckSeverity.WARN,
                               metadata={"in_groups_removed_in_pco": removed_group,
                                         "of_people_removed_in_pco": removed_person})


@dg.asset_check(asset=church_key("people"), name="people_count_matches_pco",
                description="Active church people linked to PCO vs PCO's own total_count (one request), within "
                            f"max({COUNT_TOLERANCE[0]}, {COUNT_TOLERANCE[1]:.0%}).", pool=PCO_API_POOL)
def people_count_matches_pco(pco: PCOResource, church_db: PostgresResource) -> dg.AssetCheckResult:
    document = pco.get_client().get("/people/v2/people", params={"per_page": 1})
    pco_total = int(document["meta"]["total_count"])
    with church_db.get_engine().connect() as conn:
        local = conn.execute(sa.text(
            "SELECT count(*) FROM people WHERE pco_id IS NOT NULL AND is_active")).scalar_one()
    tolerance = max(COUNT_TOLERANCE[0], int(pco_total * COUNT_TOLERANCE[1]))
    return dg.AssetCheckResult(passed=abs(pco_total - local) <= tolerance, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"pco_total_count": pco_total, "church_linked_active": local,
                                         "difference": local - pco_total, "tolerance": tolerance})


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


quarantine_checks = [
    _quarantine_check("people", ("people", "person_emails", "person_phones")),
    _quarantine_check("families", ("families", "family_members")),
    _quarantine_check("group_memberships", ("group_memberships",)),
    _quarantine_check("checkins", ("checkins", "locations", "checkin_events")),
]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(asset_checks=[*duplicate_checks, *quarantine_checks])
