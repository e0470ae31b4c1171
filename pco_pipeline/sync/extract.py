"""Extract: read one PCO resource through the client and land it, page by page.

Three ways to read, chosen from the resource's spec and its stored cursor:

- **incremental** (a cursor attribute and a stored cursor, no full refresh): only records at or
  after the cursor (minus a small overlap), ordered by it, re-anchored on the cursor at every
  page (keyset) so records that change while they are read are never skipped. The cursor moves
  in the same transaction as each page.
- **complete, ordered** (a cursor attribute but no cursor yet, or a full refresh): the whole
  resource, keyset-paged the same way, inside a complete listing so records PCO no longer has
  are marked removed at the end.
- **complete, by offset** (no cursor attribute: groups, group types, households…): a complete
  listing with offset pages fetched concurrently by the client. Nested resources (group
  memberships) are listed under each landed parent.

Unreadable records are quarantined with their reason; the read goes on. `progress` is called
after every page with the running report, so callers can log and persist progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from pco_pipeline.db import landing
from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.counters import CounterSnapshot
from pco_pipeline.pco.jsonapi import RecordError, Resource, parse_document
from pco_pipeline.sync import quarantine
from pco_pipeline.sync.catalog import ResourceSpec, spec_for
from pco_pipeline.sync.normalize import InvalidValue, parse_timestamp

# The parent whose landed ids a nested listing walks.
NESTED_PARENTS = {"groups/memberships": "groups/groups",
                  "people/household_memberships": "people/households"}


@dataclass
class ExtractReport:
    """What one extract read and landed."""

    resource: str
    mode: str = ""                      # incremental | complete
    pages: int = 0
    records: int = 0
    unreadable: int = 0
    removed: int = 0
    cursor_before: str = "none"
    cursor_after: str = "none"
    landing: landing.LandingResult = field(default_factory=landing.LandingResult)
    requests: CounterSnapshot = field(default_factory=CounterSnapshot)
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        """Records inserted or changed in the landing table (this resource and its children)."""
        return sum(c.inserted + c.changed for c in self.landing.counts.values())

    def own_counts(self) -> landing.LandedCounts:
        return self.landing.counts.get(self.resource, landing.LandedCounts())


Progress = Callable[[ExtractReport], None]


def extract_resource(client: PCOClient, engine: sa.Engine, resource: str, *, full_refresh: bool = False,
                     progress: Progress | None = None, phone_region: str = "US") -> ExtractReport:
    """Read `resource` (a catalog name such as "people/people") from PCO and land it.

    Raises the client's PCOError when PCO cannot be read; everything landed before that stays
    landed (with its cursor), and an unfinished complete listing removes nothing.
    """
    spec = spec_for(resource)
    report = ExtractReport(resource=resource)
    started, counters_before = time.monotonic(), client.counters.snapshot()
    cursor = landing.read_cursor(engine, resource)
    report.cursor_before = cursor.describe()

    def after_page() -> None:
        report.requests = client.counters.snapshot() - counters_before
        report.seconds = time.monotonic() - started
        if progress is not None:
            progress(report)

    if spec.nested:
        report.mode = "complete"
        _read_nested(client, engine, spec, report, after_page, phone_region)
    elif spec.incremental and cursor.value is not None and not full_refresh:
        report.mode = "incremental"
        _read_keyset(client, engine, spec, report, after_page, phone_region, cursor=cursor)
    else:
        report.mode = "complete"
        listing = landing.start_listing(engine, resource)
        if spec.incremental:
            _read_keyset(client, engine, spec, report, after_page, phone_region, cursor=None)
        else:
            _read_offset_pages(client, engine, spec, report, after_page, phone_region, spec.path)
        report.removed = landing.finish_listing(engine, listing).removed

    report.cursor_after = landing.read_cursor(engine, resource).describe()
    after_page()
    return report


def _land(engine: sa.Engine, spec: ResourceSpec, report: ExtractReport, records: list[Resource],
          errors: list[RecordError], *, parent_pco_id: str | None, advance_cursor: bool,
          phone_region: str) -> None:
    with engine.begin() as conn:
        result = landing.land_records(conn, spec, records, parent_pco_id=parent_pco_id,
                                      advance_cursor=advance_cursor, phone_region=phone_region)
        if errors:
            report.unreadable += quarantine.quarantine_unreadable(conn, spec.name, errors)
    report.landing.merge(result)
    report.pages += 1
    report.records += len(records)


def _cursor_stamps(spec: ResourceSpec, records: list[Resource]) -> list[tuple[str, datetime]]:
    stamps = []
    for record in records:
        try:
            stamp = parse_timestamp(record.attributes.get(spec.cursor_attribute))
        except InvalidValue:
            continue  # quarantined by the landing; it cannot anchor the keyset
        if stamp is not None:
            stamps.append((record.id, stamp))
    return stamps


def _has_next(document: dict, rows: int) -> bool:
    return rows > 0 and bool((document.get("links") or {}).get("next"))


def _read_keyset(client: PCOClient, engine: sa.Engine, spec: ResourceSpec, report: ExtractReport,
                 after_page: Callable[[], None], phone_region: str, *, cursor: landing.Cursor | None) -> None:
    """Ordered read re-anchored on the cursor at every page.

    With `cursor` None (a complete read) the anchor is kept in memory from the first record on;
    the stored cursor still only moves forward, page by page.
    """
    anchor = cursor or landing.Cursor(spec.name)
    params = landing.first_page_params(spec, cursor)
    while True:
        document = client.request("GET", spec.path, params=params).data
        parsed = parse_document(document)
        _land(engine, spec, report, parsed.records, parsed.errors, parent_pco_id=None,
              advance_cursor=True, phone_region=phone_region)
        after_page()
        anchor = anchor.advanced_by(_cursor_stamps(spec, parsed.records))
        rows = len(parsed.records) + len(parsed.errors)
        if not _has_next(document, rows) or anchor.value is None:
            return
        next_params = landing.keyset_params(spec, anchor)
        if next_params == params:
            raise RuntimeError(f"{spec.name}: the keyset read made no progress at {anchor.describe()}; "
                               f"PCO returned the same page twice")
        params = next_params


def _read_offset_pages(client: PCOClient, engine: sa.Engine, spec: ResourceSpec, report: ExtractReport,
                       after_page: Callable[[], None], phone_region: str, path: str,
                       parent_pco_id: str | None = None) -> None:
    for page in client.iter_pages(path, include=spec.include or None, params=dict(spec.params) or None,
                                  check_params=False):
        _land(engine, spec, report, page.records, page.errors, parent_pco_id=parent_pco_id,
              advance_cursor=False, phone_region=phone_region)
        after_page()


def _read_nested(client: PCOClient, engine: sa.Engine, spec: ResourceSpec, report: ExtractReport,
                 after_page: Callable[[], None], phone_region: str) -> None:
    """List the nested collection under every landed parent, as one complete listing."""
    parent_resource = NESTED_PARENTS[spec.name]
    with engine.connect() as conn:
        parents = conn.execute(sa.text(
            "SELECT pco_id FROM pco_landing WHERE resource = :r AND removed_at IS NULL"
            " ORDER BY length(pco_id), pco_id"), {"r": parent_resource}).scalars().all()
    listing = landing.start_listing(engine, spec.name)
    for parent_id in parents:
        _read_offset_pages(client, engine, spec, report, after_page, phone_region,
                           spec.path.format(parent_id=parent_id), parent_pco_id=parent_id)
    report.removed = landing.finish_listing(engine, listing).removed
