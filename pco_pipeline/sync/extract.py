"""Extract: read one PCO resource through the client and land it, page by page.

The read plan (`plan_for`) comes from the resource's catalog spec and PCO's reference
(`pco_reference`: the table the sandbox serves and the client enforces), never from
what PCO would silently ignore:

- **keyset** — only where PCO can both order and filter the listing by the cursor timestamp
  (`ResourceSpec.cursor`: people, emails, phone numbers, person mergers on created_at,
  check-ins, headcounts, event instances). With a stored cursor and no full refresh the read is
  incremental: records at or after the cursor (minus a small overlap), ordered by it,
  re-anchored on the cursor at every page so records that change while they are read are never
  skipped; the cursor moves in the same transaction as each page. Without a cursor, or on a
  full refresh, the whole resource is keyset-paged the same way inside a complete listing.
- **listing** — every other resource (households, groups, group types, check-in events, event
  times and locations, calendar events, …) is listed completely on every run, incremental or
  not, in PCO's default order, with offset pages fetched concurrently. Each page re-reads the last
  `LISTING_OVERLAP` rows of the page before and must share a record with it, else the client
  steps back and re-reads (`pco/pagination.py`): records added or removed while the listing runs
  cannot make it skip one that existed throughout.
- **nested listing** — group and household memberships, listed the same way under each landed
  parent.

Complete listings mark what they did not see as removed at the end (`sync/landing.py`).

Unreadable records are quarantined with their reason; the read goes on. `progress` is called
after every page with the running report, so callers can log and persist progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa

from pco_pipeline.pco.client import PCOClient
from pco_pipeline.pco.counters import CounterSnapshot
from pco_pipeline.pco.jsonapi import RecordError, Resource, parse_document
from pco_reference import capability
from pco_pipeline.sync import landing, quarantine
from pco_pipeline.sync.catalog import ResourceSpec, spec_for
from pco_pipeline.sync.normalize import InvalidValue, parse_timestamp

# The parent whose landed ids a nested listing walks.
NESTED_PARENTS = {"groups/memberships": "groups/groups",
                  "people/household_memberships": "people/households"}

# Rows each page of a complete listing asks for again from the page before: a page must share a
# record with the one before it, so up to this many records removed from what the reader has
# already passed (the rest shift towards it) cost nothing between two pages; more make it step
# back and re-read a page. 2 per 100-row page costs about one request in fifty.
LISTING_OVERLAP = 2


@dataclass(frozen=True)
class ReadPlan:
    """How one resource is read: the method, and why (shown in each run's metadata)."""

    resource: str
    method: str                 # keyset | listing | nested listing
    reason: str

    @property
    def complete_listing(self) -> bool:
        """True when every read is a complete listing, incremental runs included."""
        return self.method != "keyset"


def plan_for(spec: ResourceSpec) -> ReadPlan:
    """The read plan of `spec`, from PCO's reference (see the module docstring)."""
    row = capability(spec.name)
    if spec.nested:
        return ReadPlan(spec.name, "nested listing",
                        f"complete listing under each landed {NESTED_PARENTS[spec.name]} record on every run, "
                        f"incremental runs included: it has no timestamp PCO can order and filter by "
                        f"({row.reference})")
    if spec.cursor is not None:
        return ReadPlan(spec.name, "keyset",
                        f"incremental: PCO can both order and filter it by {spec.cursor} ({row.reference})")
    if spec.cursor_attribute is None:
        why = row.notes or "the pipeline does not follow a timestamp for it"
    else:
        attribute = spec.cursor_attribute
        ordered, queried = attribute in row.can_order, attribute in row.can_query
        ability = {(False, False): f"can neither order nor filter it by {attribute}",
                   (True, False): f"can order but not filter it by {attribute}",
                   (False, True): f"can filter but not order it by {attribute}"}[(ordered, queried)]
        why = f"PCO {ability}"
    return ReadPlan(spec.name, "listing",
                    f"complete listing on every run, incremental runs included: {why} ({row.reference})")


def planned_requests(spec: ResourceSpec) -> list[tuple[str, Mapping[str, str]]]:
    """Every shape of (path, query parameters) a read of `spec` sends, paging offsets aside.

    For tests that hold each plan to PCO's reference; a nested path names parent id 1.
    """
    plan = plan_for(spec)
    path = spec.path.format(parent_id="1")
    if plan.method != "keyset":
        return [(path, landing.first_page_params(spec, None))]
    cursor = landing.Cursor(spec.name, datetime(2024, 1, 1, tzinfo=timezone.utc), frozenset({"1"}))
    return [(path, landing.first_page_params(spec, None)), (path, landing.first_page_params(spec, cursor)),
            (path, landing.keyset_params(spec, cursor))]


@dataclass
class ExtractReport:
    """What one extract read and landed."""

    resource: str
    plan: ReadPlan
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


def extract_resource(client: PCOClient, engine: sa.Engine, resource: str | ResourceSpec, *,
                     full_refresh: bool = False, progress: Progress | None = None,
                     phone_region: str = "US") -> ExtractReport:
    """Read `resource` from PCO and land it: a catalog name such as "people/people", or the spec
    itself (a registry's resource the catalog does not hold is read by the spec it is given).

    Raises the client's PCOError when PCO cannot be read; everything landed before that stays
    landed (with its cursor), and an unfinished complete listing removes nothing.
    """
    spec = spec_for(resource) if isinstance(resource, str) else resource
    resource = spec.name
    plan = plan_for(spec)
    report = ExtractReport(resource=resource, plan=plan)
    started, counters_before = time.monotonic(), client.counters.snapshot()
    cursor = landing.read_cursor(engine, resource)
    report.cursor_before = cursor.describe()

    def after_page() -> None:
        report.requests = client.counters.snapshot() - counters_before
        report.seconds = time.monotonic() - started
        if progress is not None:
            progress(report)

    if plan.method == "nested listing":
        report.mode = "complete"
        _read_nested(client, engine, spec, report, after_page, phone_region)
    elif plan.method == "keyset" and cursor.value is not None and not full_refresh:
        report.mode = "incremental"
        _read_keyset(client, engine, spec, report, after_page, phone_region, cursor=cursor)
    else:
        report.mode = "complete"
        listing = landing.start_listing(engine, resource)
        if plan.method == "keyset":
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


def _cursor_stamps(cursor: str, records: list[Resource]) -> list[tuple[str, datetime]]:
    stamps = []
    for record in records:
        try:
            stamp = parse_timestamp(record.attributes.get(cursor))
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
    assert spec.cursor is not None  # plan_for keyset-reads only a resource with a cursor
    anchor = cursor or landing.Cursor(spec.name)
    params = landing.first_page_params(spec, cursor)
    while True:
        document = client.request("GET", spec.path, params=params).data
        parsed = parse_document(document)
        _land(engine, spec, report, parsed.records, parsed.errors, parent_pco_id=None,
              advance_cursor=True, phone_region=phone_region)
        after_page()
        anchor = anchor.advanced_by(_cursor_stamps(spec.cursor, parsed.records))
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
                                  overlap=LISTING_OVERLAP):
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
