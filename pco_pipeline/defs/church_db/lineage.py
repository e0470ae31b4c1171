"""Asset events for writes made outside asset materializations, so lineage shows them.

`apply_webhooks` and the push jobs are op jobs: they write the tables behind the `church/*` and
`pco/*` assets without materializing them. Each run reports what it changed as asset events on
those assets' keys:

- webhooks: an `AssetMaterialization` of each `pco/*` asset whose landing rows the applied events
  wrote, and of each `church/*` asset whose tables the loads wrote (created, updated or
  deactivated rows);
- pushes: an `AssetMaterialization` of each `church/*` asset a push stored PCO ids into, and an
  `AssetObservation` of the `pco/*` asset whose PCO records it created or changed. Observation,
  not materialization: a `pco/*` asset is what the landing table holds of PCO, and a push writes
  PCO, not the landing; the next extract (or the echoing webhook) materializes it.

A run that changed nothing reports nothing: no event says "written" when no row was.
"""

from collections import Counter
from collections.abc import Mapping, Sequence

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.inbound.keys import church_key, pco_key
from pco_pipeline.sync.loading import LoadCounts
from pco_pipeline.sync.push import PushReport
from pco_pipeline.sync.registry import DEFAULT
from pco_pipeline.sync.webhook_events import EVENT_RESOURCES

# The entity names the inbound loads report counts under → the `church/*` asset showing them.
CHURCH_ASSET_OF_LOAD: Mapping[str, str] = {
    table.entity: DEFAULT.entity_of_table(table.entity)[1].name for entity in DEFAULT.entities for table in entity.tables}

# PCO record type a push writes → the `pco/*` asset that lands it.
PCO_ASSET_OF_PUSHED: Mapping[str, str] = {
    "Person": "people", "Email": "people", "PhoneNumber": "people", "Address": "people",
    "Household": "households", "HouseholdMembership": "households",
    "Membership": "group_memberships",
}
# PCO record type a push creates or adopts → the `church/*` asset whose table then holds its PCO
# id (addresses and household members have no PCO id column at the church).
CHURCH_ASSET_OF_PUSHED: Mapping[str, str] = {
    "Person": "people", "Email": "people", "PhoneNumber": "people",
    "Household": "families", "Membership": "group_memberships",
}


def pco_asset_of_landing(resource: str) -> dg.AssetKey:
    """The `pco/*` asset whose landing rows hold `resource` (itself, or as an owned child: emails
    are landed by `pco/people`)."""
    return pco_key(DEFAULT.landing_asset(resource))


def _event_subject(event_name: str) -> str:
    return event_name.rpartition(".")[0]


def _batch(inbox_ids: Sequence[int]) -> str:
    return f"{len(inbox_ids)} row(s), ids {min(inbox_ids)}–{max(inbox_ids)}" if inbox_ids else "none"


def webhook_asset_events(engine: sa.Engine, applied_ids: Sequence[int], loads: Mapping[str, LoadCounts],
                         batch_ids: Sequence[int]) -> list[dg.AssetMaterialization]:
    """What one `apply_webhooks` run changed, per asset: `applied_ids` are the inbox rows it landed,
    `loads` the church loads' counts, `batch_ids` the inbox rows the run was asked to apply."""
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT event_name FROM webhook_inbox WHERE id = ANY(:ids)"),
                             {"ids": list(applied_ids)}).scalars().all() if applied_ids else []
    events_by_asset: dict[dg.AssetKey, Counter] = {}
    for name in names:
        key = pco_asset_of_landing(EVENT_RESOURCES[_event_subject(name)])
        events_by_asset.setdefault(key, Counter())[name] += 1
    batch = dg.MetadataValue.text(_batch(batch_ids))
    materializations = [
        dg.AssetMaterialization(asset_key=key, description="landed from webhook deliveries", metadata={
            "applied_events": dg.MetadataValue.int(sum(events.values())),
            "events": dg.MetadataValue.json(dict(sorted(events.items()))),
            "inbox_batch": batch,
        })
        for key, events in sorted(events_by_asset.items(), key=lambda item: item[0].to_user_string())]
    return materializations + load_asset_events(loads, "written by the webhook application's loads", {
        "events": dg.MetadataValue.json(dict(sorted(Counter(names).items()))), "inbox_batch": batch})


def load_asset_events(loads: Mapping[str, LoadCounts], description: str,
                      metadata: Mapping[str, dg.MetadataValue]) -> list[dg.AssetMaterialization]:
    """A materialization of each `church/*` asset whose tables `loads` wrote (created, updated or
    deactivated rows), with the counts per table and `metadata`."""
    by_church: dict[str, dict[str, LoadCounts]] = {}
    for entity, counts in loads.items():
        by_church.setdefault(CHURCH_ASSET_OF_LOAD[entity], {})[entity] = counts
    materializations = []
    for name, entities in sorted(by_church.items()):
        total = LoadCounts.combined(entities.values())
        if total.writes == 0:
            continue
        materializations.append(dg.AssetMaterialization(
            asset_key=church_key(name), description=description, metadata={
                **{field: dg.MetadataValue.int(n) for field, n in total.as_dict().items()},
                "rows_written": dg.MetadataValue.int(total.writes),
                "by_table": dg.MetadataValue.json({entity: c.as_dict() for entity, c in sorted(entities.items())}),
                **metadata,
            }))
    return materializations


def push_asset_events(report: PushReport) -> list[dg.AssetMaterialization | dg.AssetObservation]:
    """What one push step changed: church tables it stored PCO ids into (materializations) and the
    PCO records it created or changed (observations of their `pco/*` asset). None for a dry run."""
    if report.dry_run:
        return []
    by_resource = report.counts.by_resource()
    church: dict[str, dict[str, int]] = {}
    pco: dict[str, dict[str, dict[str, int]]] = {}
    for resource, outcomes in by_resource.items():
        if resource in CHURCH_ASSET_OF_PUSHED and outcomes["created"] + outcomes["adopted"]:
            linked = church.setdefault(CHURCH_ASSET_OF_PUSHED[resource], {})
            linked[resource] = outcomes["created"] + outcomes["adopted"]
        if resource in PCO_ASSET_OF_PUSHED and outcomes["created"] + outcomes["updated"]:
            pco.setdefault(PCO_ASSET_OF_PUSHED[resource], {})[resource] = {
                "created": outcomes["created"], "updated": outcomes["updated"]}
    events: list[dg.AssetMaterialization | dg.AssetObservation] = []
    for name, linked in sorted(church.items()):
        events.append(dg.AssetMaterialization(
            asset_key=church_key(name), description=f"PCO ids stored by push {report.push}", metadata={
                "pco_ids_stored": dg.MetadataValue.int(sum(linked.values())),
                "by_record_type": dg.MetadataValue.json(linked),
                "push": dg.MetadataValue.text(report.push),
            }))
    for name, written in sorted(pco.items()):
        events.append(dg.AssetObservation(
            asset_key=pco_key(name),
            description=f"written in PCO by push {report.push}; the landing catches up at the next extract",
            metadata={
                "created_in_pco": dg.MetadataValue.int(sum(w["created"] for w in written.values())),
                "updated_in_pco": dg.MetadataValue.int(sum(w["updated"] for w in written.values())),
                "by_record_type": dg.MetadataValue.json(written),
                "push": dg.MetadataValue.text(report.push),
            }))
    return events
