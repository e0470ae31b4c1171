"""Collection queries as live PCO answers them: parameters, `where`, `filter`, `order`, paging.

Rules (GOLD = the live recordings, DOC = PCO's docs; see the spec):
* `per_page` defaults to the kind's default (25) and is silently clamped to its maximum (100),
  as PCO's reference states per resource; `per_page=0` gives no rows and a `next` at the same
  offset (GOLD). Values are read like Ruby's `to_i` ("abc" → 0).
  A negative `offset` or `per_page` is refused with 400 (inferred; live behaviour unrecorded).
* `where[attr]=v` is case- and accent-insensitive equality, `%` at either end a wildcard; dates
  and times take `[gt|gte|lt|lte]`; a date-only value for a timestamp means that whole day in the
  organization's time zone (DOC). Unknown attributes, nested `where[rel][attr]` and unknown
  operators are ignored; a blank value filters nothing; a value that cannot be coerced to the
  attribute's type matches nothing (GOLD `err_non_numeric_grade`).
* Person search filters behave as measured live: `search_name` is a word-prefix match on first,
  last, nick, given and full name (not middle); `search_phone_number` a digits-suffix match on the
  number as entered (a person with the number twice comes back twice, ISS#957);
  `search_phone_number_e164` exact digits; the `_or_email` arms add an email substring match.
* `order=a,-b`: keys the kind cannot order by are ignored, strings case/accent-folded, null sorts
  lowest (first ascending, last descending), ties by numeric id ascending even when descending
  (GOLD). Without `order`, rows come in numeric id order.
"""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, UTC
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from pco_sandbox import errors
from pco_sandbox.clock import format_timestamp
from pco_sandbox.schema import BOOL, DATE, DATETIME, FLOAT, INT, Kind
from pco_sandbox.store import Record, Store

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100

_WHERE = re.compile(r"^where\[([^\[\]]*)\](?:\[([^\[\]]*)\])?$")
_FIELDS = re.compile(r"^fields\[([^\[\]]+)\]$")
_LEADING_INT = re.compile(r"^\s*([+-]?\d+)")
_STRICT_INT = re.compile(r"^[+-]?\d+$")
_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
_SEARCHES = frozenset({"search_name", "search_name_or_email", "search_name_or_email_or_phone_number",
                       "search_phone_number", "search_phone_number_e164"})


@dataclass(frozen=True)
class Condition:
    attribute: str
    operator: str | None     # None = equality
    value: str


@dataclass
class ListQuery:
    """A parsed query string. `params` keeps the caller's parameters (last value per key) for links."""

    params: dict[str, str]
    per_page: int
    offset: int
    include: list[tuple[str, ...]] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)   # (attribute, descending)
    where: list[Condition] = field(default_factory=list)
    fields: dict[str, set[str]] = field(default_factory=dict)
    filters: list[str] = field(default_factory=list)


def ruby_to_i(text: str) -> int:
    """Ruby's String#to_i: the leading integer, or 0."""
    match = _LEADING_INT.match(text)
    return int(match.group(1)) if match else 0


def parse_query(query_string: str, *, per_page_default: int = DEFAULT_PER_PAGE,
                per_page_max: int = MAX_PER_PAGE) -> ListQuery:
    """Parse a request's query string (`per_page` defaulted and clamped by the listed kind's limits).

    Raises ApiError(400) for a negative offset or per_page.
    """
    params: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        params[key] = value
    per_page = per_page_default
    if "per_page" in params:
        per_page = ruby_to_i(params["per_page"])
        if per_page < 0:
            raise errors.bad_request("per_page must be greater than or equal to 0", code="invalid_parameter")
        per_page = min(per_page, per_page_max)
    offset = ruby_to_i(params.get("offset", "0"))
    if offset < 0:
        raise errors.bad_request("offset must be greater than or equal to 0", code="invalid_parameter")
    query = ListQuery(params=params, per_page=per_page, offset=offset)
    for token in params.get("include", "").split(","):
        path = tuple(part for part in token.strip().split(".") if part)
        if path and path not in query.include:
            query.include.append(path)
    for token in params.get("order", "").split(","):
        token = token.strip()
        if token:
            query.order.append((token[1:], True) if token.startswith("-") else (token, False))
    query.filters = [f.strip() for f in params.get("filter", "").split(",") if f.strip()]
    for key, value in params.items():
        where = _WHERE.match(key)
        if where:
            query.where.append(Condition(where.group(1), where.group(2), value))
            continue
        fields = _FIELDS.match(key)
        if fields:
            query.fields[fields.group(1)] = {name.strip() for name in value.split(",") if name.strip()}
    return query


def fold(text: str) -> str:
    """PCO's collation for comparing and sorting text: accents stripped, case folded."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


@dataclass
class Context:
    """What a query needs beyond the collection: the store, the org's time zone, now, the parent."""

    store: Store
    time_zone: ZoneInfo
    now: datetime
    parent: Record | None = None
    params: dict[str, str] = field(default_factory=dict)
    allowed_filters: tuple[str, ...] = ()   # the route's meta.can_filter


# A predicate returns how many times the record appears in the result (0 = filtered out).
Predicate = Callable[[Record], int]


class _NoRows(Exception):
    """A condition whose value cannot be coerced: the whole query matches nothing."""


def select(kind: Kind, records: list[Record], query: ListQuery, ctx: Context) -> list[Record]:
    """Filter and order `records` (id-ordered) as PCO would. May repeat a record (phone search)."""
    try:
        predicates = [p for p in (_where_predicate(kind, c, ctx) for c in query.where) if p is not None]
        predicates += [p for p in (_filter_predicate(kind, name, ctx) for name in query.filters
                                   if name in ctx.allowed_filters) if p is not None]
        if kind.key == "people/field_definitions" and "include_deleted" not in query.filters:
            predicates.append(lambda r: int(r.attributes.get("deleted_at") is None))
    except _NoRows:
        return []
    if predicates:
        rows: list[Record] = []
        for record in records:
            times = 1
            for predicate in predicates:
                times *= predicate(record)
                if not times:
                    break
            rows.extend([record] * times)
    else:
        rows = list(records)
    return order_rows(kind, rows, query.order, ctx.store)


def order_rows(kind: Kind, rows: list[Record], order: list[tuple[str, bool]], store: Store) -> list[Record]:
    keys = [(name, desc) for name, desc in order
            if name in kind.order_by and (name in kind.attributes or name in kind.order_through)]
    for name, descending in reversed(keys):  # stable sorts, last key first; id order survives ties
        rows.sort(key=lambda r, n=name: _sort_value(_order_value(kind, r, n, store)), reverse=descending)
    return rows


def _order_value(kind: Kind, record: Record, name: str, store: Store) -> Any:
    through = kind.order_through.get(name)
    if through is None:
        return record.attributes.get(name)
    relationship, attribute = through
    rel = kind.relationships[relationship]
    related = next((store.get(rel.target, rid) for rid in record.rel_ids(relationship)), None)
    return related.attributes.get(attribute) if related is not None else None


def _sort_value(value: Any) -> tuple:
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (2, value)
    if isinstance(value, str):
        return (3, fold(value))
    return (4, repr(value))


# --- where -----------------------------------------------------------------------------------------

def _where_predicate(kind: Kind, condition: Condition, ctx: Context) -> Predicate | None:
    name, operator, value = condition.attribute, condition.operator, condition.value
    if name not in kind.query_by or value.strip() == "":
        return None
    if operator is not None and operator not in _OPERATORS:
        return None
    if name in _SEARCHES and kind.key == "people/people":
        return None if operator else _search_predicate(name, value, ctx)
    if name in kind.attributes:
        return _attribute_predicate(name, kind.attributes[name], operator, value, ctx)
    if name == "id":
        return _id_predicate(operator, value)
    if name.endswith("_id") and name[:-3] in kind.relationships:
        rel_name = name[:-3]
        wanted = value.strip()
        return lambda r: int(wanted in r.rel_ids(rel_name))
    if name == "archive_status":
        return _archive_status_predicate(value)
    return None  # advertised but not simulated (e.g. account_center_person_id): ignored, as unknown keys


def _id_predicate(operator: str | None, value: str) -> Predicate:
    if not _STRICT_INT.match(value.strip()):
        raise _NoRows
    wanted = int(value)
    compare = _COMPARATORS[operator or "eq"]
    return lambda r: int(r.id.isdigit() and compare(int(r.id), wanted))


_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b, "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b}


def _attribute_predicate(name: str, type_: str, operator: str | None, value: str, ctx: Context) -> Predicate | None:
    """None: PCO ignores this condition (e.g. an operator on a boolean)."""
    if type_ == DATETIME:
        return _datetime_predicate(name, operator, value, ctx)
    if type_ == DATE:
        wanted = _parse_date(value)
        compare = _COMPARATORS[operator or "eq"]
        return lambda r: int(isinstance(v := r.attributes.get(name), str) and compare(v[:10], wanted))
    if type_ in (INT, FLOAT):
        number = _parse_number(value, type_)
        compare = _COMPARATORS[operator or "eq"]
        return lambda r: int(isinstance(v := r.attributes.get(name), (int, float)) and not isinstance(v, bool)
                             and compare(v, number))
    if type_ == BOOL:
        if operator:
            return None
        wanted_bool = _parse_bool(value)
        return lambda r: int(r.attributes.get(name) is wanted_bool)
    return _text_predicate(name, operator, value)


def _parse_number(value: str, type_: str) -> int | float:
    text = value.strip()
    if _STRICT_INT.match(text):
        return int(text)
    if type_ == FLOAT:
        try:
            return float(text)
        except ValueError:
            pass
    raise _NoRows


def _text_predicate(name: str, operator: str | None, value: str) -> Predicate:
    needle = fold(value)
    if operator:
        compare = _COMPARATORS[operator]
        return lambda r: int(isinstance(v := r.attributes.get(name), str) and compare(fold(v), needle))
    starts, ends = needle.startswith("%"), needle.endswith("%") and len(needle) > 1
    core = needle.strip("%")
    if starts and ends:
        test: Callable[[str], bool] = lambda v: core in v
    elif starts:
        test = lambda v: v.endswith(core)
    elif ends:
        test = lambda v: v.startswith(core)
    else:
        test = lambda v: v == core
    return lambda r: int((v := r.attributes.get(name)) is not None and test(fold(str(v))))


def _parse_bool(value: str) -> bool:
    text = value.strip().lower()
    if text in ("true", "t", "1"):
        return True
    if text in ("false", "f", "0"):
        return False
    raise _NoRows


def _parse_date(value: str) -> str:
    text = value.strip()[:10]
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise _NoRows from None


def _datetime_predicate(name: str, operator: str | None, value: str, ctx: Context) -> Predicate:
    """Compare PCO timestamps (canonical "…Z" strings, so string order is time order)."""
    text = value.strip()
    if len(text) == 10:  # a date: that whole day in the organization's time zone
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _NoRows from None
        start = format_timestamp(datetime.combine(day, time(), ctx.time_zone))
        end = format_timestamp(datetime.combine(day + timedelta(days=1), time(), ctx.time_zone))
        tests = {None: lambda v: start <= v < end, "gt": lambda v: v >= end, "gte": lambda v: v >= start,
                 "lt": lambda v: v < start, "lte": lambda v: v < end}
    else:
        try:
            moment = datetime.fromisoformat(text.replace(" ", "+"))  # a raw "+" decodes to a space
        except ValueError:
            raise _NoRows from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=ctx.time_zone)
        second = format_timestamp(moment)
        whole = moment.microsecond == 0
        tests = {None: (lambda v: v == second) if whole else (lambda v: False),
                 "gt": lambda v: v > second, "gte": (lambda v: v >= second) if whole else (lambda v: v > second),
                 "lt": (lambda v: v < second) if whole else (lambda v: v <= second), "lte": lambda v: v <= second}
    test = tests[operator]
    return lambda r: int(isinstance(v := r.attributes.get(name), str) and test(v))


def _archive_status_predicate(value: str) -> Predicate | None:
    status = value.strip().lower()
    if status == "only":
        return lambda r: int(r.attributes.get("archived_at") is not None)
    if status == "not_archived":
        return lambda r: int(r.attributes.get("archived_at") is None)
    return None


# --- search ----------------------------------------------------------------------------------------

_NAME_FIELDS = ("first_name", "last_name", "nickname", "given_name", "name")


def _search_predicate(name: str, value: str, ctx: Context) -> Predicate:
    needle = " ".join(fold(value).split())
    phone_digits = digits(value)
    store = ctx.store

    def name_match(person: Record) -> bool:
        attributes = person.attributes
        candidates = [attributes.get(f) for f in _NAME_FIELDS]
        candidates.append(f"{attributes.get('first_name') or ''} {attributes.get('last_name') or ''}")
        for candidate in candidates:
            if candidate and (" " + " ".join(fold(candidate).split())).find(" " + needle) >= 0:
                return True
        return False

    def email_match(person: Record) -> bool:
        return any(needle in fold(e.attributes.get("address") or "")
                   for e in store.children("people/emails", "person", person.id))

    def phone_suffix_count(person: Record) -> int:
        if not phone_digits:
            return 0
        return sum(1 for p in store.children("people/phone_numbers", "person", person.id)
                   if digits(p.attributes.get("number")).endswith(phone_digits))

    def e164_match(person: Record) -> int:
        return int(bool(phone_digits) and any(
            digits(p.attributes.get("e164")) == phone_digits
            for p in store.children("people/phone_numbers", "person", person.id)))

    if name == "search_name":
        return lambda r: int(name_match(r))
    if name == "search_name_or_email":
        return lambda r: int(name_match(r) or email_match(r))
    if name == "search_phone_number":
        return phone_suffix_count
    if name == "search_phone_number_e164":
        return e164_match
    return lambda r: int(name_match(r) or email_match(r) or phone_suffix_count(r) > 0)


# --- filter= ---------------------------------------------------------------------------------------

def _filter_predicate(kind: Kind, name: str, ctx: Context) -> Predicate | None:
    now = format_timestamp(ctx.now)
    if kind.key == "people/people":
        if name == "created_since":
            since = ctx.params.get("time")
            try:
                moment = datetime.fromisoformat(since) if since else ctx.now - timedelta(days=1)
            except ValueError:
                raise _NoRows from None
            bound = format_timestamp(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
            return lambda r: int((r.attributes.get("created_at") or "") >= bound)
        if name in ("admins", "organization_admins"):
            return lambda r: int(bool(r.attributes.get("site_administrator")))
        if name == "non_pending" and ctx.parent is not None:
            pending = {m.rel_ids("person")[0] for m in ctx.store.children(
                "people/household_memberships", "household", ctx.parent.id)
                if m.attributes.get("pending") and m.rel_ids("person")}
            return lambda r: int(r.id not in pending)
        return None
    simple: dict[str, Predicate] = {
        "checked_out": lambda r: int(r.attributes.get("checked_out_at") is not None),
        "not_checked_out": lambda r: int(r.attributes.get("checked_out_at") is None),
        "guest": lambda r: int((r.attributes.get("kind") or "").lower() == "guest"),
        "regular": lambda r: int((r.attributes.get("kind") or "").lower() == "regular"),
        "volunteer": lambda r: int((r.attributes.get("kind") or "").lower() == "volunteer"),
        "one_time_guest": lambda r: int(bool(r.attributes.get("one_time_guest"))),
        "not_one_time_guest": lambda r: int(not r.attributes.get("one_time_guest")),
        "archived": lambda r: int(r.attributes.get("archived_at") is not None),
        "not_archived": lambda r: int(r.attributes.get("archived_at") is None),
        "root": lambda r: int(not r.rel_ids("parent")),
        "approved": lambda r: int(r.attributes.get("approval_status") == "A"),
        "pending": lambda r: int(r.attributes.get("approval_status") == "P"),
    }
    if kind.key == "calendar/event_instances":
        simple["future"] = lambda r: int((r.attributes.get("starts_at") or "") >= now)
        simple["past"] = lambda r: int((r.attributes.get("starts_at") or "~") < now)
    if kind.key == "calendar/events":
        simple["future"] = lambda r: int(any((i.attributes.get("starts_at") or "") >= now for i in
                                             ctx.store.children("calendar/event_instances", "event", r.id)))
    return simple.get(name)


@dataclass
class Page:
    rows: list[Record]
    total: int
    offset: int
    per_page: int

    @property
    def next_offset(self) -> int | None:
        """PCO's rule: a next page whenever offset + per_page < total (so per_page=0 loops)."""
        return self.offset + self.per_page if self.offset + self.per_page < self.total else None

    @property
    def prev_offset(self) -> int | None:
        return max(self.offset - self.per_page, 0) if self.offset > 0 else None


def paginate(rows: list[Record], query: ListQuery) -> Page:
    return Page(rows[query.offset:query.offset + query.per_page], len(rows), query.offset, query.per_page)


class ResultCache:
    """Selected row lists, keyed by the store version and everything that shaped them.

    Paging through a large filtered or ordered listing then costs one selection, not one per page.
    Queries whose answer depends on the current time (`filter=created_since`, `future`, …) are not
    cached.
    """

    def __init__(self, size: int = 64) -> None:
        self._entries: OrderedDict[tuple, list[Record]] = OrderedDict()
        self._size = size

    def get_or_select(self, version: int, kind: Kind, scope: tuple, query: ListQuery,
                      compute: Callable[[], list[Record]]) -> list[Record]:
        if query.filters:
            return compute()
        key = (version, kind.key, scope, tuple(query.where), tuple(query.order))
        rows = self._entries.get(key)
        if rows is None:
            rows = compute()
            self._entries[key] = rows
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return rows
