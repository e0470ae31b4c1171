"""Offset pagination done safely, and fast when PCO says how many rows there are.

PCO pages with `offset` + `per_page` (1..100). What the recordings show, and how we cope:
- `per_page` above 100 is clamped while `links.next` keeps the requested value, and
  `per_page=0` returns no rows with a `next` pointing at the same page. So the next offset is
  always **this offset + rows actually received**, never offset + requested per_page, and we
  never send `per_page` outside 1..100.
- The listing ends at the first page without `next` (neither `meta.next` nor `links.next`) or
  the first empty page. `total_count` is a hint only (it was once capped at 10,000).
- When the first page gives `total_count`, the remaining offsets are planned and fetched
  `prefetch` at a time to hide latency; pages are still yielded in order, and if one page
  disagrees with the plan (the set changed under us, or grew past `total_count`) the rest is
  followed page by page from the last page actually read.
- A listing of a set that changes while it is read (`overlap` > 0: complete listings in PCO's
  default order) asks every page again for the last `overlap` rows of the page before, and
  accepts a page only if it holds at least one record of the page before it: then no record that
  existed throughout can lie between them, whatever was added or removed meanwhile (records keep
  their relative order). A page that does not (more records went before the reader than the
  overlap covers, or all of the previous page's records did) makes the listing step back one page
  at a time and re-read until one does, then go on page by page. Records an earlier page already
  yielded are dropped (`Page.repeated` counts them), so each is yielded once.
- Fetching threads only send requests and keep the answers' bodies; each page is decoded and
  parsed in the thread that consumes the listing, just before it is yielded. A parsed page is
  several times its body in Python objects: built and freed one at a time in one thread,
  each page reuses the memory the previous one left, while pages parsed ahead in 64 threads
  cost nearly twice the CPU per page; and the answers waiting in the queue stay small.
- Unknown `where`/`order`/`include`/`filter` keys are silently ignored by PCO (a filtered sync
  would quietly read everything): the client refuses them before sending by PCO's reference
  (`pco_reference`, `check_accepted`), and for routes that table does not describe
  the first page's `meta.can_*` lists are checked (`check_query`); either way a `PCOQueryError`
  names the parameter before any record is yielded.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from queue import SimpleQueue
from typing import Any

from pco_pipeline.pco.errors import PCOError, PCOQueryError
from pco_pipeline.pco.jsonapi import ParsedDocument, RecordError, Resource
from pco_reference import Accepts

MAX_PER_PAGE = 100
WHERE_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})

Query = list[tuple[str, str]]


@dataclass(slots=True)
class Page:
    """One page of a listing: parsed records, the records that failed to parse, and paging facts."""

    path: str
    offset: int
    records: list[Resource]
    errors: list[RecordError]
    included: list[Resource]
    meta: dict[str, Any]
    links: dict[str, Any]
    has_next: bool
    # Rows PCO sent that an earlier page of an overlapping listing already yielded (dropped here).
    repeated: int = 0
    # Rows at the end of this page the next page asks for again (an overlapping listing).
    overlap: int = 0

    @property
    def rows(self) -> int:
        """Rows PCO sent on this page (parsed, unreadable or repeated): what the next offset advances by."""
        return len(self.records) + len(self.errors) + self.repeated

    @property
    def total_count(self) -> int | None:
        value = self.meta.get("total_count")
        return value if isinstance(value, int) and value >= 0 else None

    @property
    def next_offset(self) -> int | None:
        """Offset of the following page, or None when this is the last one."""
        if not self.has_next or self.rows == 0:
            return None
        return self.offset + max(1, self.rows - self.overlap)

    def row_ids(self) -> set[str]:
        """Ids of the rows PCO sent (records, and unreadable ones that still carry an id)."""
        return {r.id for r in self.records} | {i for e in self.errors if (i := _raw_id(e)) is not None}

    @classmethod
    def from_document(cls, path: str, offset: int, document: ParsedDocument) -> "Page":
        meta_next = document.meta.get("next")
        has_next = bool(document.links.get("next")) or (isinstance(meta_next, Mapping) and "offset" in meta_next)
        return cls(path=path, offset=offset, records=document.records, errors=document.errors,
                   included=document.included, meta=document.meta, links=document.links,
                   has_next=has_next)


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def build_query(*, include: Iterable[str] | str | None = None, where: Mapping[str, Any] | None = None,
                order: Iterable[str] | str | None = None, filter: Iterable[str] | str | None = None,
                params: Mapping[str, Any] | None = None, per_page: int | None = MAX_PER_PAGE) -> Query:
    """Query parameters for a listing.

    `where={"updated_at": {"gte": t}, "status": "active"}` → `where[updated_at][gte]=…&where[status]=active`;
    datetimes become PCO's `YYYY-MM-DDTHH:MM:SSZ` (UTC), booleans `true`/`false`.
    `include`, `order` and `filter` take a list or a comma-separated string.
    """
    query: Query = []
    if per_page is not None:
        if not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be 1..{MAX_PER_PAGE} (PCO clamps larger values and loops on 0), "
                             f"got {per_page!r}")
        query.append(("per_page", str(per_page)))
    for name, value in (("include", include), ("order", order), ("filter", filter)):
        if value:
            query.append((name, value if isinstance(value, str) else ",".join(value)))
    for attribute, condition in (where or {}).items():
        if isinstance(condition, Mapping):
            for operator, value in condition.items():
                if operator not in WHERE_OPERATORS:
                    raise ValueError(f"where[{attribute}][{operator}]: PCO supports only {sorted(WHERE_OPERATORS)}")
                query.append((f"where[{attribute}][{operator}]", _format_value(value)))
        else:
            query.append((f"where[{attribute}]", _format_value(condition)))
    for name, value in (params or {}).items():
        query.append((name, _format_value(value)))
    return query


def check_accepted(query: Iterable[tuple[str, str]], accepts: Accepts, where: str) -> None:
    """Raise PCOQueryError naming every parameter of `query` PCO would silently ignore at `where`."""
    ignored = accepts.ignored(query)
    if ignored:
        raise PCOQueryError(f"PCO would silently ignore {'; '.join(ignored)} on {where}")


def check_query(query: Query, meta: Mapping[str, Any]) -> None:
    """Raise PCOQueryError for a parameter PCO would silently ignore, judged by `meta.can_*`.

    Lists PCO did not send are not judged.
    """
    def listed(key: str) -> frozenset[str] | None:
        value = meta.get(key)
        return frozenset(value) if isinstance(value, list) else None

    accepts = Accepts(include=listed("can_include"), order=listed("can_order_by"), query=listed("can_query_by"),
                      filter=listed("can_filter"))
    check_accepted(query, accepts, "this listing (its meta.can_* lists)")


# fetch(offset, cancel) sends a page's request and returns `read`, which decodes its answer into
# a Page (called in the consuming thread).
Fetch = Callable[[int, "threading.Event | None"], Callable[[], Page]]


def iterate_pages(fetch: Fetch, start_offset: int = 0, prefetch: int = 1,
                  on_first_page: Callable[[Page], None] | None = None,
                  wake: Callable[[], None] | None = None, overlap: int = 0) -> Iterator[Page]:
    """Every page of a listing, in order (see the module docstring for the rules).

    `fetch(offset, cancel)` sends one page's request and returns a function that reads the
    answer into a Page; fetch is called from up to `prefetch` threads at once, the reader only
    from the caller's thread, in page order. When prefetched pages are dropped (the caller
    stopped, or the plan broke) their `cancel` event is set and `wake()` called, so fetches
    still waiting for the budget give up without sending anything. `on_first_page` may raise
    to stop before anything is yielded. `overlap` > 0 reads a set that may change meanwhile
    without missing a record that existed throughout (module docstring); PCOError if it keeps
    changing faster than it can be read.
    """
    if overlap:
        fetch = _overlapping(fetch, overlap)
    page = fetch(start_offset, None)()
    if on_first_page is not None:
        on_first_page(page)
    following = _following(fetch, page, prefetch, wake)
    if overlap:
        yield from _connected(fetch, page, following, overlap)
    else:
        yield page
        yield from following


def _following(fetch: Fetch, first: Page, prefetch: int,
               wake: Callable[[], None] | None) -> Generator[Page, None, None]:
    """The pages after `first`, in order: planned and prefetched when its total_count allows."""
    next_offset = first.next_offset
    total = first.total_count
    if next_offset is not None and prefetch > 1 and total is not None and next_offset < total:
        next_offset = yield from _planned(fetch, next_offset, next_offset - first.offset, total, prefetch, wake)
    while next_offset is not None:
        page = fetch(next_offset, None)()
        yield page
        next_offset = page.next_offset


def _overlapping(fetch: Fetch, overlap: int) -> Fetch:
    def fetch_overlapping(offset: int, cancel: threading.Event | None) -> Callable[[], Page]:
        read = fetch(offset, cancel)

        def read_overlapping() -> Page:
            page = read()
            page.overlap = overlap
            return page
        return read_overlapping
    return fetch_overlapping


def _connected(fetch: Fetch, first: Page, following: Generator[Page, None, None],
               overlap: int) -> Iterator[Page]:
    """`first` and `following`, each page accepted only once it holds a record of the page before it
    (else step back and re-read, page by page), records already yielded dropped."""
    seen: set[str] = set()
    stride = max(1, first.rows - overlap)
    # Re-reads allowed before giving up: enough to survive churn, bounded so a set that never
    # stops moving cannot keep a listing going forever.
    rereads_left = max(10, 2 * -(-(first.total_count or first.rows) // stride))
    yield _unseen(first, seen)
    previous = first
    pending: Page | None = None
    for page in following:
        if not _continues(previous, page):
            pending = page
            break
        yield _unseen(page, seen)
        previous = page
    if pending is None:
        return
    following.close()  # drop the planned pages still in flight: the set moved under them
    while pending is not None:
        if pending.offset > 0 and not _continues(previous, pending):
            if rereads_left == 0:
                raise PCOError(f"the listing changed faster than it could be read (stepped back from offset "
                               f"{pending.offset} too often); read it again later", method="GET", path=pending.path)
            rereads_left -= 1
            pending = fetch(max(0, pending.offset - stride), None)()
            continue
        yield _unseen(pending, seen)
        previous = pending
        next_offset = pending.next_offset
        pending = fetch(next_offset, None)() if next_offset is not None else None


def _continues(previous: Page, page: Page) -> bool:
    return not previous.row_ids().isdisjoint(page.row_ids())


def _unseen(page: Page, seen: set[str]) -> Page:
    """`page` without the rows an earlier page yielded; marks its rows seen."""
    records = [r for r in page.records if r.id not in seen]
    errors = [e for e in page.errors if (i := _raw_id(e)) is None or i not in seen]
    seen.update(page.row_ids())
    dropped = len(page.records) - len(records) + len(page.errors) - len(errors)
    if not dropped:
        return page
    return replace(page, records=records, errors=errors, repeated=page.repeated + dropped)


def _raw_id(error: RecordError) -> str | None:
    raw = error.raw
    value = raw.get("id") if isinstance(raw, Mapping) else None
    return str(value) if value is not None else None


def _planned(fetch: Fetch, first: int, stride: int, total: int, prefetch: int,
             wake: Callable[[], None] | None) -> Generator[Page, None, int | None]:
    """Pages at first, first+stride, … < total; returns where to go on from.

    `prefetch` requests are kept in flight while the caller waits for the page it needs next:
    a page that came back early does not hold up the next request (its answer waits, unread,
    in the queue, which never holds more than 2 × `prefetch` pages).
    """
    offsets = iter(range(first, total, stride))
    pending: deque[tuple[int, Future[Callable[[], Page]]]] = deque()
    finished: SimpleQueue[None] = SimpleQueue()  # one token per fetch that came back
    pool = ThreadPoolExecutor(max_workers=prefetch, thread_name_prefix="pco-page")
    cancel = threading.Event()
    in_flight = 0  # submitted fetches whose token has not been taken yet
    try:
        def top_up() -> None:
            nonlocal in_flight
            while not finished.empty():
                finished.get()
                in_flight -= 1
            while in_flight < prefetch and len(pending) < 2 * prefetch:
                offset = next(offsets, None)
                if offset is None:
                    return
                future = pool.submit(fetch, offset, cancel)
                future.add_done_callback(lambda _: finished.put(None))
                pending.append((offset, future))
                in_flight += 1

        top_up()
        next_offset: int | None = first
        while pending:
            offset, future = pending[0]
            while not future.done():
                finished.get()  # some fetch came back: its place can be refilled
                in_flight -= 1
                top_up()
            pending.popleft()
            if offset != next_offset:
                return next_offset  # the previous page disagreed with the plan: go on page by page
            page = future.result()()
            yield page
            next_offset = page.next_offset
            if next_offset is None:
                return None
            top_up()
        return next_offset
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if pending:
            cancel.set()
            if wake is not None:
                wake()
