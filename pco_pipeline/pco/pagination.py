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
- Fetching threads only send requests and keep the answers' bodies; each page is decoded and
  parsed in the thread that consumes the listing, just before it is yielded. A parsed page is
  several times its body in Python objects: built and freed one at a time in one thread,
  each page reuses the memory the previous one left, while pages parsed ahead in 64 threads
  cost nearly twice the CPU per page; and the answers waiting in the queue stay small.
- Unknown `where`/`order`/`include`/`filter` keys are silently ignored by PCO (a filtered sync
  would quietly read everything): the first page's `meta.can_*` lists are checked and a
  `PCOQueryError` names the parameter before any record is yielded.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from queue import SimpleQueue
from typing import Any

from pco_pipeline.pco.errors import PCOQueryError
from pco_pipeline.pco.jsonapi import ParsedDocument, RecordError, Resource

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

    @property
    def rows(self) -> int:
        """Rows PCO sent on this page (parsed or not): what the next offset advances by."""
        return len(self.records) + len(self.errors)

    @property
    def total_count(self) -> int | None:
        value = self.meta.get("total_count")
        return value if isinstance(value, int) and value >= 0 else None

    @property
    def next_offset(self) -> int | None:
        """Offset of the following page, or None when this is the last one."""
        if not self.has_next or self.rows == 0:
            return None
        return self.offset + self.rows

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


def check_query(query: Query, meta: Mapping[str, Any]) -> None:
    """Raise PCOQueryError for a parameter PCO would silently ignore, judged by `meta.can_*`.

    Lists PCO did not send are not judged.
    """
    allowed = {key: set(meta[key]) for key in ("can_include", "can_order_by", "can_query_by", "can_filter")
               if isinstance(meta.get(key), list)}

    def refuse(parameter: str, key: str) -> None:
        raise PCOQueryError(f"PCO would silently ignore {parameter}: this listing accepts {key.removeprefix('can_')} "
                            f"values {sorted(allowed[key])}")

    for name, value in query:
        if name == "include" and "can_include" in allowed:
            for path in value.split(","):
                if path and path.split(".", 1)[0] not in allowed["can_include"]:
                    refuse(f"include={path}", "can_include")
        elif name == "order" and "can_order_by" in allowed:
            for key in value.split(","):
                if key and key.lstrip("-") not in allowed["can_order_by"]:
                    refuse(f"order={key}", "can_order_by")
        elif name.startswith("where[") and "can_query_by" in allowed:
            attribute = name[len("where["):].split("]", 1)[0]
            if attribute not in allowed["can_query_by"]:
                refuse(name, "can_query_by")
        elif name == "filter" and "can_filter" in allowed:
            for scope in value.split(","):
                if scope and scope not in allowed["can_filter"]:
                    refuse(f"filter={scope}", "can_filter")


# fetch(offset, cancel) sends a page's request and returns `read`, which decodes its answer into
# a Page (called in the consuming thread).
Fetch = Callable[[int, "threading.Event | None"], Callable[[], Page]]


def iterate_pages(fetch: Fetch, start_offset: int = 0, prefetch: int = 1,
                  on_first_page: Callable[[Page], None] | None = None,
                  wake: Callable[[], None] | None = None) -> Iterator[Page]:
    """Every page of a listing, in order (see the module docstring for the rules).

    `fetch(offset, cancel)` sends one page's request and returns a function that reads the
    answer into a Page; fetch is called from up to `prefetch` threads at once, the reader only
    from the caller's thread, in page order. When prefetched pages are dropped (the caller
    stopped, or the plan broke) their `cancel` event is set and `wake()` called, so fetches
    still waiting for the budget give up without sending anything. `on_first_page` may raise
    to stop before anything is yielded.
    """
    page = fetch(start_offset, None)()
    if on_first_page is not None:
        on_first_page(page)
    yield page
    next_offset = page.next_offset
    total = page.total_count
    if next_offset is not None and prefetch > 1 and total is not None and next_offset < total:
        next_offset = yield from _planned(fetch, next_offset, page.rows, total, prefetch, wake)
    while next_offset is not None:
        page = fetch(next_offset, None)()
        yield page
        next_offset = page.next_offset


def _planned(fetch: Fetch, first: int, stride: int, total: int, prefetch: int,
             wake: Callable[[], None] | None) -> Iterator[Page]:
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
