"""`pco/*` assets: each reads one PCO resource through the rate-limited PCO resource and lands
it in `pco_landing` page by page (raw JSON plus normalized values), with its cursor. One asset per
resource the registry gives an `Extract` (`sync/catalog.py`)."""

import dagster as dg
import sqlalchemy as sa

from pco_pipeline.defs.church_db.previews import markdown_preview
from pco_pipeline.defs.church_db.resources import PostgresResource
from pco_pipeline.defs.church_db.runlog import step_log
from pco_pipeline.defs.inbound.keys import EXTRACT_GROUP, pco_key
from pco_pipeline.defs.pco.resources import PCO_API_POOL, PCOResource
from pco_pipeline.sync.catalog import Extract, ResourceSpec
from pco_pipeline.sync.extract import ExtractReport, extract_resource

PREVIEW_ROWS = 10


class ExtractConfig(dg.Config):
    full_refresh: bool = False
    """Re-read everything instead of only what changed since the cursor (also finds deletions)."""


PREVIEW_HEADERS = ("pco id", "record", "PCO updated_at", "landed change", "removed")


def _preview(engine: sa.Engine, resource: str, extract: Extract) -> str:
    """The most recently changed landed records, as a markdown table."""
    with engine.connect() as conn:
        return markdown_preview(conn, sa.text(
            f"SELECT l.pco_id, {extract.label_sql} AS label, l.pco_updated_at,"
            " to_char(l.changed_at, 'YYYY-MM-DD HH24:MI:SS') AS changed,"
            " CASE WHEN l.removed_at IS NOT NULL THEN 'yes' END AS removed"
            " FROM pco_landing l WHERE l.resource = :r ORDER BY l.changed_at DESC, l.pco_id LIMIT :n"),
            {"r": resource, "n": PREVIEW_ROWS}, PREVIEW_HEADERS)


def _metadata(report: ExtractReport, engine: sa.Engine, resource: str, extract: Extract, full_refresh: bool) -> dict:
    own = report.own_counts()
    with engine.connect() as conn:
        active = conn.execute(sa.text(
            "SELECT count(*) FROM pco_landing WHERE resource = :r AND removed_at IS NULL"),
            {"r": resource}).scalar_one()
    children = {name: counts for name, counts in report.landing.counts.items() if name != resource}
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(active),
        "requested": "full refresh" if full_refresh else "incremental",
        "mode": report.mode,
        # How PCO lets this resource be read: an incremental run of a resource PCO cannot
        # keyset-page says here that it was a complete listing, and why.
        "read_as": f"{report.plan.method}: {report.plan.reason}" if report.plan else report.mode,
        "records_fetched": dg.MetadataValue.int(report.records),
        "new": dg.MetadataValue.int(own.inserted),
        "changed": dg.MetadataValue.int(own.changed),
        "unchanged": dg.MetadataValue.int(own.unchanged),
        "removed": dg.MetadataValue.int(report.removed),
        "quarantined_unreadable": dg.MetadataValue.int(report.unreadable),
        "requests_used": dg.MetadataValue.int(report.requests.requests),
        "pages": dg.MetadataValue.int(report.pages),
        "rate_limited_429s": dg.MetadataValue.int(report.requests.rate_limited),
        "retries": dg.MetadataValue.int(report.requests.retries),
        "seconds_waiting_for_rate_budget": dg.MetadataValue.float(round(report.requests.wait_seconds, 2)),
        "cursor_before": report.cursor_before,
        "cursor_after": report.cursor_after,
        "duration_seconds": dg.MetadataValue.float(round(report.seconds, 2)),
        "preview": dg.MetadataValue.md(_preview(engine, resource, extract)),
    }
    for name, counts in children.items():
        metadata[f"{name}: new/changed/removed"] = f"{counts.inserted}/{counts.changed}/{counts.removed}"
    return metadata


def extract_asset(spec: ResourceSpec) -> dg.AssetsDefinition:
    """The `pco/*` asset reading `spec` (which must have an `extract`)."""
    extract = spec.extract
    if extract is None:
        raise ValueError(f"PCO resource {spec.name} has no pco/* asset: it is landed through another resource")
    resource = spec.name

    @dg.asset(
        key=pco_key(extract.asset),
        group_name=EXTRACT_GROUP,
        kinds={"pco", "postgres"},
        description=extract.description,
        deps=[pco_key(d) for d in extract.deps],
        pool=PCO_API_POOL,
        tags={"pco/resource": resource.replace("/", "__")},
    )
    def _extract(context: dg.AssetExecutionContext, config: ExtractConfig, pco: PCOResource,
                 church_db: PostgresResource) -> dg.MaterializeResult:
        engine = church_db.get_engine()
        with step_log(context, engine, "inbound") as step:

            def progress(report: ExtractReport) -> None:
                step.progress(f"{resource}: {report.records} records in {report.pages} pages, "
                              f"{report.requests.requests} requests, {report.requests.rate_limited} 429s",
                              created=report.own_counts().inserted, updated=report.own_counts().changed,
                              skipped=report.unreadable, requests_used=report.requests.requests)

            report = extract_resource(pco.get_client(), engine, resource,
                                      full_refresh=config.full_refresh, progress=progress)
            step.finish(created=report.own_counts().inserted, updated=report.own_counts().changed,
                        skipped=report.unreadable, requests_used=report.requests.requests)
        context.log.info(f"{resource}: {report.records} records, {report.changed} new or changed, "
                         f"{report.removed} removed, {report.requests.requests} requests")
        return dg.MaterializeResult(metadata=_metadata(report, engine, resource, extract, config.full_refresh))

    return _extract
