"""The inbound asset graph as data: which PCO resource each `pco/*` asset lands, what each
`church/*` asset loads, and which job runs which assets."""

from dataclasses import dataclass

import dagster as dg

EXTRACT_GROUP = "pco_extract"
LOAD_GROUP = "church_load"


@dataclass(frozen=True)
class ExtractAsset:
    name: str              # asset key pco/<name>
    resource: str          # catalog name (pco_pipeline/sync/catalog.py)
    description: str
    label_sql: str         # SQL expression over pco_landing `l` naming a record in previews
    deps: tuple[str, ...] = ()

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey(["pco", self.name])


def _attr(name: str) -> str:
    return f"(l.attributes->>'{name}')"


PERSON_LABEL = f"concat_ws(' ', {_attr('first_name')}, {_attr('last_name')})"

EXTRACTS = (
    ExtractAsset("people", "people/people",
                 "PCO People with their emails, phone numbers and addresses (one request per 100 people). "
                 "Incremental on updated_at; a full refresh also finds people deleted in PCO.", PERSON_LABEL),
    ExtractAsset("person_mergers", "people/person_mergers",
                 "PCO's log of merged people (kept id, removed id), incremental on created_at.",
                 f"{_attr('person_to_remove_id')} || ' → ' || {_attr('person_to_keep_id')}"),
    ExtractAsset("households", "people/households",
                 "PCO households with their members. Listed completely every time: adding or removing a "
                 "member bumps no updated_at in PCO.", _attr("name")),
    ExtractAsset("group_types", "groups/group_types", "PCO group types (complete listing).", _attr("name")),
    ExtractAsset("groups", "groups/groups",
                 "PCO groups, archived included (complete listing: Groups has no updated_at).", _attr("name")),
    ExtractAsset("group_memberships", "groups/memberships",
                 "Memberships of every landed group (one listing per group; no timestamps in PCO).",
                 f"{_attr('role')} || ' of group ' || l.parent_pco_id", deps=("groups",)),
    ExtractAsset("checkins", "check-ins/check_ins",
                 "PCO check-ins with their event, service time and locations, incremental on updated_at. "
                 "Read-only in PCO.", PERSON_LABEL),
    ExtractAsset("checkin_events", "check-ins/events",
                 "PCO Check-Ins events (complete listing: PCO can neither order nor filter them by updated_at).",
                 _attr("name")),
    ExtractAsset("checkin_locations", "check-ins/locations",
                 "PCO check-in locations, rooms and folders (complete listing: PCO can query them by nothing).",
                 _attr("name")),
    ExtractAsset("checkin_event_times", "check-ins/event_times",
                 "Service times of PCO Check-Ins events (complete listing: PCO cannot order them by updated_at).",
                 f"{_attr('name')} || ' ' || {_attr('starts_at')}"),
    ExtractAsset("headcounts", "check-ins/headcounts",
                 "PCO headcounts (attendance counted without check-ins) with their attendance type, "
                 "incremental on updated_at.", _attr("total")),
    ExtractAsset("calendar_events", "calendar/events",
                 "PCO Calendar events (complete listing: PCO can filter them by updated_at but order them by "
                 "nothing).", _attr("name")),
    ExtractAsset("event_instances", "calendar/event_instances",
                 "PCO Calendar event instances (one row per occurrence), incremental.", _attr("starts_at")),
)

EXTRACTS_BY_NAME = {e.name: e for e in EXTRACTS}


def pco_key(name: str) -> dg.AssetKey:
    return EXTRACTS_BY_NAME[name].key


def church_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["church", name])
