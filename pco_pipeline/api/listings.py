"""Read-only JSON over the data mirrored from PCO, for the church's own apps (internal API only).

    GET /api/pco/checkins            PCO check-ins (checkins.source = 'pco')
    GET /api/pco/calendar-events     PCO calendar event instances (events.source = 'calendar')
    GET /api/pco/group-types         PCO group types: the areas under the "PCO Groups" department
    GET /api/pco/checkin-locations   PCO check-in locations (locations with a pco_id)

Each row has its local `id` and, as `pco_id`, PCO's own id (the local prefixes that keep id
spaces apart, `group_type:` and `check-ins:`, are taken off). Rows PCO no longer has (their
`pco_removed_at` is set) are left out unless `include_removed=true`.

Every listing is ordered by local id and paginated with `limit` (1–500, default 100) and
`offset`; the answer is `{"data": [...], "meta": {"total_count", "count", "limit", "offset"},
"links": {"self", "next"}}` where `next` is null on the last page. An unknown, repeated or
malformed query parameter is a 400 naming the parameter and why, never silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pco_pipeline.sync.pco_state import (
    CHECKIN_EVENT_PREFIX, GROUP_TYPE_PREFIX, PCO_GROUPS_DEPARTMENT, UNTYPED_GROUPS_AREA,
)
from pco_pipeline.webhooks.envelope import decimal_or_none
from pco_pipeline.webhooks.responses import error_response

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_OFFSET = 10_000_000

# The listings are SQLAlchemy Core queries, not `text()` statements like the rest of the project:
# each request adds any subset of optional filters, and Core composes those WHERE clauses, the
# count and the page from one declaration with every value bound, where text would need SQL
# assembled from fragments.
people = sa.table("people", sa.column("id"), sa.column("pco_id"))
events = sa.table(
    "events", *(sa.column(name) for name in (
        "id", "pco_id", "source", "name", "description", "starts_at", "ends_at", "all_day", "location",
        "pco_removed_at", "created_at", "updated_at")))
locations = sa.table(
    "locations", *(sa.column(name) for name in (
        "id", "pco_id", "parent_id", "name", "kind", "age_min_months", "age_max_months",
        "grade_min", "grade_max", "capacity", "pco_removed_at", "created_at", "updated_at")))
checkins = sa.table(
    "checkins", *(sa.column(name) for name in (
        "id", "pco_id", "person_id", "event_id", "location_id", "first_name", "last_name", "kind",
        "security_code", "checked_in_at", "checked_out_at", "source", "created_at", "updated_at")))
church_group = sa.table(
    "church_group", *(sa.column(name) for name in (
        "id", "pco_id", "parent_id", "level", "name", "description", "is_active",
        "pco_removed_at", "created_at", "updated_at")))


class BadParameter(ValueError):
    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter
        self.reason = reason


# --- query parameter parsers: text → value, ValueError with a reason when unusable ---------------

def _shown(raw: str) -> str:
    return repr(raw if len(raw) <= 40 else raw[:40] + "…")


def parse_positive_id(raw: str) -> int:
    value = decimal_or_none(raw)
    if value is None or value < 1:
        raise ValueError(f"must be a positive integer id, got {_shown(raw)}")
    return value


_PLUS_LOST_IN_QUERY = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


def parse_query_timestamp(raw: str) -> datetime:
    """A query parameter's ISO 8601 date (midnight UTC) or timestamp (UTC when it names no offset);
    not `sync.normalize.parse_timestamp`, which reads PCO's attributes (no bare dates, None when empty)."""
    # An unencoded "+02:00" arrives as " 02:00": form decoding turns + into a space.
    text = _PLUS_LOST_IN_QUERY.sub(r"\1+\2", raw.strip())
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            value = datetime.combine(date.fromisoformat(text), time(0), tzinfo=timezone.utc)
        else:
            value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"must be an ISO 8601 date or timestamp such as 2024-05-01 or "
                         f"2024-05-01T09:30:00Z, got {_shown(raw)}") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(f"must be true or false, got {_shown(raw)}")


def parse_text(raw: str) -> str:
    if not raw.strip() or len(raw) > 255 or "\x00" in raw:
        raise ValueError(f"must be non-empty text of at most 255 characters, got {_shown(raw)}")
    return raw.strip()


def _bounded_int(name: str, raw: str, low: int, high: int) -> int:
    value = decimal_or_none(raw)
    if value is None or not low <= value <= high:
        raise BadParameter(name, f"must be an integer from {low} to {high}, got {_shown(raw)}")
    return value


# --- listings -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filter:
    """One query parameter: how to read it and the WHERE clause it adds."""

    parse: Callable[[str], Any]
    clause: Callable[[Any], sa.ColumnElement[bool]]
    default: Any = None  # when not None, the clause applies with this value if the parameter is absent


@dataclass(frozen=True)
class Listing:
    """One read-only collection: its base query, its id column (the order) and its filters."""

    path: str
    query: sa.Select
    id_column: sa.ColumnElement
    filters: Mapping[str, Filter] = field(default_factory=dict)
    # Checks between parameters (e.g. from before to); raises BadParameter.
    validate: Callable[[dict[str, Any]], None] = lambda values: None


def _without_prefix(column: sa.ColumnElement, prefix: str) -> sa.ColumnElement:
    """PCO's id from a local pco_id that carries `prefix` (other values pass unchanged)."""
    return sa.case((column.startswith(prefix), sa.func.substr(column, len(prefix) + 1)), else_=column)


def _include_removed(table: sa.FromClause) -> Filter:
    return Filter(parse_boolean, lambda include: sa.true() if include else table.c.pco_removed_at.is_(None),
                  default=False)


def _checkins_listing() -> Listing:
    person, event, location = people.alias("person"), events.alias("event"), locations.alias("location")
    c = checkins.c
    query = (sa.select(c.id, c.pco_id, c.person_id, person.c.pco_id.label("person_pco_id"),
                       c.event_id, _without_prefix(event.c.pco_id, CHECKIN_EVENT_PREFIX).label("event_pco_id"),
                       c.location_id, location.c.pco_id.label("location_pco_id"),
                       c.first_name, c.last_name, c.kind, c.security_code,
                       c.checked_in_at, c.checked_out_at, c.created_at, c.updated_at)
             .select_from(checkins
                          .outerjoin(person, person.c.id == c.person_id)
                          .outerjoin(event, event.c.id == c.event_id)
                          .outerjoin(location, location.c.id == c.location_id))
             .where(c.source == "pco"))
    return Listing("/api/pco/checkins", query, c.id, {
        "since": Filter(parse_query_timestamp, lambda v: c.checked_in_at >= v),
        "until": Filter(parse_query_timestamp, lambda v: c.checked_in_at < v),
        "updated_since": Filter(parse_query_timestamp, lambda v: c.updated_at >= v),
        "event_id": Filter(parse_positive_id, lambda v: c.event_id == v),
        "person_id": Filter(parse_positive_id, lambda v: c.person_id == v),
        "location_id": Filter(parse_positive_id, lambda v: c.location_id == v),
    }, validate=_ordered("since", "until"))


def _calendar_events_listing() -> Listing:
    e = events.c
    query = (sa.select(e.id, e.pco_id, e.name, e.description, e.starts_at, e.ends_at, e.all_day,
                       e.location, e.pco_removed_at, e.created_at, e.updated_at)
             .where(e.source == "calendar"))
    return Listing("/api/pco/calendar-events", query, e.id, {
        # An event is in the window when it has not ended before `from` and starts before `to`.
        "from": Filter(parse_query_timestamp, lambda v: sa.func.coalesce(e.ends_at, e.starts_at) >= v),
        "to": Filter(parse_query_timestamp, lambda v: e.starts_at < v),
        "updated_since": Filter(parse_query_timestamp, lambda v: e.updated_at >= v),
        "include_removed": _include_removed(events),
    }, validate=_ordered("from", "to"))


def _group_types_listing() -> Listing:
    area, department = church_group.alias("area"), church_group.alias("department")
    groups = church_group.alias("grp")
    group_count = (sa.select(sa.func.count()).select_from(groups)
                   .where(groups.c.parent_id == area.c.id, groups.c.level == 3,
                          groups.c.pco_removed_at.is_(None))
                   .scalar_subquery())
    query = (sa.select(area.c.id, _without_prefix(area.c.pco_id, GROUP_TYPE_PREFIX).label("pco_id"),
                       area.c.name, area.c.description, area.c.is_active,
                       group_count.label("group_count"), area.c.pco_removed_at,
                       area.c.created_at, area.c.updated_at)
             .select_from(area.join(department, department.c.id == area.c.parent_id))
             # Matched by pco_id, not name: staff may rename the department. The area holding
             # groups without a type is not a PCO group type.
             .where(area.c.level == 2, department.c.pco_id == PCO_GROUPS_DEPARTMENT,
                    area.c.pco_id.startswith(GROUP_TYPE_PREFIX),
                    area.c.pco_id != UNTYPED_GROUPS_AREA))
    return Listing("/api/pco/group-types", query, area.c.id, {
        "active": Filter(parse_boolean, lambda v: area.c.is_active.is_(v)),
        "include_removed": _include_removed(area),
    })


def _checkin_locations_listing() -> Listing:
    loc = locations.c
    query = (sa.select(loc.id, loc.pco_id, loc.parent_id, loc.name, loc.kind, loc.age_min_months,
                       loc.age_max_months, loc.grade_min, loc.grade_max, loc.capacity,
                       loc.pco_removed_at, loc.created_at, loc.updated_at)
             .where(loc.pco_id.is_not(None)))
    return Listing("/api/pco/checkin-locations", query, loc.id, {
        "kind": Filter(parse_text, lambda v: loc.kind == v),
        "parent_id": Filter(parse_positive_id, lambda v: loc.parent_id == v),
        "include_removed": _include_removed(locations),
    })


def _ordered(start: str, end: str) -> Callable[[dict[str, Any]], None]:
    def validate(values: dict[str, Any]) -> None:
        if start in values and end in values and values[start] >= values[end]:
            raise BadParameter(end, f"must be later than {start}")
    return validate


LISTINGS = [_checkins_listing(), _calendar_events_listing(), _group_types_listing(),
            _checkin_locations_listing()]


# --- the endpoint -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Page:
    limit: int
    offset: int
    conditions: list[sa.ColumnElement[bool]]


def read_page_parameters(listing: Listing, query_items: list[tuple[str, str]]) -> Page:
    """The page and filters a query string asks for. Raises BadParameter on any bad parameter."""
    allowed = ["limit", "offset", *listing.filters]
    seen: dict[str, str] = {}
    for name, raw in query_items:
        if name not in allowed:
            raise BadParameter(name, f"is not a parameter of {listing.path}; it accepts {', '.join(allowed)}")
        if name in seen:
            raise BadParameter(name, "is given more than once")
        seen[name] = raw
    limit = _bounded_int("limit", seen["limit"], 1, MAX_LIMIT) if "limit" in seen else DEFAULT_LIMIT
    offset = _bounded_int("offset", seen["offset"], 0, MAX_OFFSET) if "offset" in seen else 0
    values: dict[str, Any] = {}
    for name, spec in listing.filters.items():
        if name in seen:
            try:
                values[name] = spec.parse(seen[name])
            except ValueError as exc:
                raise BadParameter(name, str(exc)) from None
        elif spec.default is not None:
            values[name] = spec.default
    listing.validate(values)
    return Page(limit, offset, [listing.filters[name].clause(value) for name, value in values.items()])


def fetch_page(engine: sa.Engine, listing: Listing, page: Page) -> tuple[list[dict[str, Any]], int]:
    """The rows of one page (ordered by id) and the total number of rows matching the filters."""
    filtered = listing.query.where(*page.conditions)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(filtered.subquery())).scalar_one()
        rows = conn.execute(filtered.order_by(listing.id_column).limit(page.limit).offset(page.offset))
        return [{key: _json_value(value) for key, value in row._mapping.items()} for row in rows], total


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def listing_endpoint(engine: sa.Engine, listing: Listing) -> Callable[[Request], Awaitable[Response]]:
    """The GET endpoint of `listing`, reading through `engine`."""
    async def endpoint(request: Request) -> Response:
        try:
            page = read_page_parameters(listing, request.query_params.multi_items())
        except BadParameter as exc:
            return error_response(400, "Bad query parameter", f"{exc.parameter} {exc.reason}",
                                  parameter=exc.parameter)
        data, total = await run_in_threadpool(fetch_page, engine, listing, page)
        next_offset = page.offset + page.limit
        return JSONResponse({
            "data": data,
            "meta": {"total_count": total, "count": len(data), "limit": page.limit, "offset": page.offset},
            "links": {
                "self": str(request.url),
                "next": (str(request.url.include_query_params(limit=page.limit, offset=next_offset))
                         if next_offset < total else None),
            },
        })
    return endpoint

