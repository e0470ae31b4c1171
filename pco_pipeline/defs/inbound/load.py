"""`church/*` assets: load what the extracts landed into the church tables.

Each load matches and upserts set-based in one transaction, writes only rows whose values
differ (a re-run with nothing new writes nothing), quarantines what it cannot apply with the
reason, and never touches the church-owned fields (allergies, photo, verification, local
check-ins and memberships).
"""

from collections.abc import Callable, Iterator

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.church_db.previews import markdown_preview
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.church_db.runlog import step_log
from pco_pipeline.defs.inbound.asset_graph import LOAD_GROUP, church_key, pco_key
from pco_pipeline.sync import quarantine
from pco_pipeline.sync.load_checkins import load_checkins, load_events
from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_groups import load_group_memberships, load_groups
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.loading import LoadCounts

PREVIEW_ROWS = 10

# church asset -> (table for the row count / preview, preview columns)
TABLES = {
    "people": ("people", "id, pco_id, first_name, last_name, birthdate, status, is_active"),
    "families": ("families", "id, pco_id, name, city, state"),
    "church_groups": ("church_group", "id, pco_id, level, name, parent_id"),
    "group_memberships": ("group_membership", "id, pco_id, group_id, person_id, leader_type, source"),
    "events": ("events", "id, pco_id, name, starts_at, source"),
    "locations": ("locations", "id, pco_id, name, kind, grade_min, grade_max"),
    "checkins": ("checkins", "id, pco_id, first_name, last_name, kind, checked_in_at, source"),
}


def _result(engine: sa.Engine, name: str, counts: LoadCounts, extra: dict | None = None) -> dg.MaterializeResult:
    table, columns = TABLES[name]
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        open_quarantine = quarantine.open_counts(conn)
        preview = markdown_preview(conn, sa.text(
            f"SELECT {columns} FROM {table} ORDER BY updated_at DESC, id DESC LIMIT :n"), {"n": PREVIEW_ROWS})
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(rows),
        **{key: dg.MetadataValue.int(value) for key, value in counts.as_dict().items()},
        "open_quarantine": dg.MetadataValue.int(sum(open_quarantine.values())),
        "preview": dg.MetadataValue.md(preview),
        **(extra or {}),
    }
    return dg.MaterializeResult(asset_key=church_key(name), metadata=metadata)


def _logged(context: dg.AssetExecutionContext, engine: sa.Engine, run: Callable[[], dict[str, LoadCounts]]
            ) -> dict[str, LoadCounts]:
    """Run a load, reporting its counts into the run's pco_sync_log row."""
    with step_log(context, engine, "inbound") as step:
        report = run()
        total = LoadCounts.combined(report.values())
        step.finish(created=total.created, updated=total.updated + total.deactivated, failed=total.quarantined)
    for entity, counts in report.items():
        context.log.info(f"{entity}: {counts.as_dict()}")
    return report


@dg.asset(key=church_key("people"), group_name=LOAD_GROUP, kinds={"postgres"},
          deps=[pco_key("people"), pco_key("person_mergers")],
          description="PCO people matched to church people (pco_id → email → name + birthdate → create) and "
                      "upserted with their emails and phones. PCO owns names, demographics and contacts; the "
                      "church's own fields are never overwritten. People gone from PCO become inactive; merges "
                      "re-point links to the surviving person. Ambiguous matches are quarantined, not guessed.")
def church_people(context: dg.AssetExecutionContext, church_db: PostgresResource) -> dg.MaterializeResult:
    engine = church_db.get_engine()
    result = None

    def run():
        nonlocal result
        result = load_people(engine)
        return result.counts

    report = _logged(context, engine, run)
    matches = result.matches
    return _result(engine, "people", report["people"], {
        "matched_by_pco_id": dg.MetadataValue.int(matches.by_pco_id),
        "matched_by_email": dg.MetadataValue.int(matches.by_email),
        "matched_by_name_birthdate": dg.MetadataValue.int(matches.by_name_birthdate),
        "ambiguous": dg.MetadataValue.int(matches.ambiguous),
        "merges_applied": dg.MetadataValue.int(result.merges_applied),
        **{f"{entity}: created/updated/deactivated": f"{c.created}/{c.updated}/{c.deactivated}"
           for entity, c in report.items() if entity != "people"},
    })


@dg.asset(key=church_key("families"), group_name=LOAD_GROUP, kinds={"postgres"},
          deps=[pco_key("households"), church_key("people")],
          description="PCO households → families and family members; the primary contact's PCO address "
                      "becomes the family address (the church keeps addresses on the family).")
def church_families(context: dg.AssetExecutionContext, church_db: PostgresResource) -> dg.MaterializeResult:
    engine = church_db.get_engine()
    report = _logged(context, engine, lambda: load_families(engine))
    members = report["family_members"]
    return _result(engine, "families", report["families"], {
        "members: created/updated/removed": f"{members.created}/{members.updated}/{members.deactivated}"})


@dg.asset(key=church_key("church_groups"), group_name=LOAD_GROUP, kinds={"postgres"},
          deps=[pco_key("groups"), pco_key("group_types")],
          description="PCO groups under an auto-created 'PCO Groups' department, one area per group type.")
def church_groups(context: dg.AssetExecutionContext, church_db: PostgresResource) -> dg.MaterializeResult:
    engine = church_db.get_engine()
    report = _logged(context, engine, lambda: load_groups(engine))
    return _result(engine, "church_groups", report["church_groups"])


@dg.asset(key=church_key("group_memberships"), group_name=LOAD_GROUP, kinds={"postgres"},
          deps=[pco_key("group_memberships"), church_key("church_groups"), church_key("people")],
          description="PCO group memberships (leader → leader, member → member). Memberships made at the "
                      "church stay the church's.")
def church_group_memberships(context: dg.AssetExecutionContext, church_db: PostgresResource) -> dg.MaterializeResult:
    engine = church_db.get_engine()
    report = _logged(context, engine, lambda: load_group_memberships(engine))
    return _result(engine, "group_memberships", report["group_memberships"])


@dg.asset(key=church_key("events"), group_name=LOAD_GROUP, kinds={"postgres"},
          deps=[pco_key("event_instances"), pco_key("calendar_events")],
          description="PCO Calendar event instances → events (one row per occurrence).")
def church_events(context: dg.AssetExecutionContext, church_db: PostgresResource) -> dg.MaterializeResult:
    engine = church_db.get_engine()
    report = _logged(context, engine, lambda: load_events(engine))
    return _result(engine, "events", report["events"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(church_key("locations"), group_name=LOAD_GROUP, kinds={"postgres"},
                     deps=[pco_key("checkin_locations")],
                     description="PCO check-in locations → locations (rooms with age and grade ranges; folders)."),
        dg.AssetSpec(church_key("checkins"), group_name=LOAD_GROUP, kinds={"postgres"},
                     deps=[pco_key("checkins"), pco_key("checkin_events"), pco_key("checkin_event_times"),
                           pco_key("headcounts"), church_key("people")],
                     description="A read-only mirror of PCO check-ins (source 'pco'), linked to people, "
                                 "check-in events, service times (event_times) and locations, with the "
                                 "headcounts taken at each service time; the view service_attendance adds "
                                 "them up. Check-ins made at the church stay untouched."),
    ],
)
def church_checkins(context: dg.AssetExecutionContext, church_db: PostgresResource) -> Iterator[dg.MaterializeResult]:
    engine = church_db.get_engine()
    report = _logged(context, engine, lambda: load_checkins(engine))
    yield _result(engine, "locations", report["locations"])
    events, times, headcounts = report["checkin_events"], report["event_times"], report["headcounts"]
    yield _result(engine, "checkins", report["checkins"], {
        "checkin_events: created/updated": f"{events.created}/{events.updated}",
        "event_times: created/updated/removed": f"{times.created}/{times.updated}/{times.deactivated}",
        "headcounts: created/updated/removed": f"{headcounts.created}/{headcounts.updated}/{headcounts.deactivated}"})
