"""Inbound jobs and their schedules: the same jobs staff launch from the UI or `pco-pipeline sync`."""

import os

import dagster as dg

from pco_pipeline.defs.inbound.asset_graph import EXTRACTS, church_key, pco_key
from pco_pipeline.sync.catalog import spec_for

# church assets each job loads, and the extracts they need.
JOB_ASSETS = {
    "sync_people": (("people", "person_mergers"), ("people",)),
    "sync_families": (("households",), ("families",)),
    "sync_groups": (("group_types", "groups", "group_memberships"), ("church_groups", "group_memberships")),
    "sync_checkins": (("checkin_events", "checkin_locations", "checkin_event_times", "checkins", "headcounts"),
                      ("locations", "checkins")),
    "sync_calendar": (("calendar_events", "event_instances"), ("events",)),
}
JOB_DESCRIPTIONS = {
    "sync_people": "PCO people (with emails, phones, addresses) and merges → church people.",
    "sync_families": "PCO households → church families and members.",
    "sync_groups": "PCO group types, groups and memberships → the church's group hierarchy.",
    "sync_checkins": "PCO check-ins, check-in events, locations, service times and headcounts → the church's "
                     "read-only mirror.",
    "sync_calendar": "PCO Calendar events and instances → church events.",
}
INBOUND_TAGS = {"pco/direction": "inbound"}


def _selection(extracts, loads) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*[pco_key(n) for n in extracts], *[church_key(n) for n in loads])


def full_refresh_run_config(extract_names=None) -> dict:
    """Run config that makes the given extracts (default: all) re-read everything."""
    names = extract_names or [e.name for e in EXTRACTS]
    return {"ops": {f"pco__{name}": {"config": {"full_refresh": True}} for name in names}}


def _job(name: str, selection: dg.AssetSelection, description: str):
    # One process per run: one shared rate budget per credential, steps in dependency order.
    return dg.define_asset_job(name, selection=selection, description=description, tags=INBOUND_TAGS,
                               executor_def=dg.in_process_executor)


sync_jobs = [_job(name, _selection(*JOB_ASSETS[name]), JOB_DESCRIPTIONS[name]) for name in JOB_ASSETS]

ALL_EXTRACTS = tuple(name for extracts, _ in JOB_ASSETS.values() for name in extracts)
ALL_LOADS = tuple(name for _, loads in JOB_ASSETS.values() for name in loads)
full_sync = _job("full_sync", _selection(ALL_EXTRACTS, ALL_LOADS),
                 "Everything inbound, people → families → groups → check-ins and calendar. Incremental by "
                 "default; set full_refresh on the pco/* steps (as the nightly schedule does) to re-read all.")

# Resources PCO can both order and filter by their cursor timestamp (keyset reads): cheap to poll
# often. The rest are complete listings on every run, so polling them every 15 minutes would
# re-read them whole.
INCREMENTAL_EXTRACTS = tuple(e.name for e in EXTRACTS if spec_for(e.resource).incremental)
sync_incremental = _job(
    "sync_incremental",
    _selection(INCREMENTAL_EXTRACTS, ("people", "events", "locations", "checkins")),
    "Only what changed since the last run (people, merges, check-ins, headcounts, calendar event instances), "
    "by their cursor; the resources PCO cannot keyset-page wait for the nightly full sync.")

nightly_full_sync = dg.ScheduleDefinition(
    name="nightly_full_sync",
    job=full_sync,
    cron_schedule=os.environ.get("PCO_NIGHTLY_CRON", "0 3 * * *"),
    execution_timezone=os.environ.get("PCO_SYNC_TIMEZONE", "UTC"),
    run_config=full_refresh_run_config(),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Re-reads everything from PCO every night (finds deletions and changes updated_at misses). "
                "Set PCO_NIGHTLY_CRON and PCO_SYNC_TIMEZONE to move it.",
)

incremental_sync = dg.ScheduleDefinition(
    name="incremental_sync",
    job=sync_incremental,
    cron_schedule="*/15 * * * *",
    execution_timezone=os.environ.get("PCO_SYNC_TIMEZONE", "UTC"),
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Every 15 minutes: what changed in PCO since the last run. Switch it on in the UI.",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[*sync_jobs, full_sync, sync_incremental],
                          schedules=[nightly_full_sync, incremental_sync])
