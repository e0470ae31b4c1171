"""PCO's API reference as data: what each listing the pipeline reads accepts (`capabilities.toml`).

One table, three readers: the sandbox serves exactly these `order` / `where` / `include` /
`filter` / `per_page` rules, the client refuses any parameter they do not allow before sending
it, and the extract plans keyset-page only where a timestamp is both orderable and queryable.
This package imports nothing from the rest of the project, so the sandbox (which must stand
alone) and the pipeline (which must not import the sandbox) can both read it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

TABLE_FILE = Path(__file__).with_name("capabilities.toml")


@dataclass(frozen=True)
class Accepts:
    """The parameters one request may carry; None for a list nobody stated (not judged)."""

    include: frozenset[str] | None = None
    order: frozenset[str] | None = None
    query: frozenset[str] | None = None
    filter: frozenset[str] | None = None
    per_page_max: int | None = None

    def ignored(self, params: Iterable[tuple[str, str]]) -> list[str]:
        """Each parameter in `params` PCO would silently ignore, with what it accepts instead.

        Judged: `include` (its first path segment), `order` keys (a leading `-` reverses),
        `where[attr]` / `where[attr][op]`, `filter` scopes, and `per_page` (1..per_page_max).
        Other parameters (`offset`, `fields[...]`, a filter's own arguments) are not judged.
        """
        problems: list[str] = []
        for name, value in params:
            value = str(value)
            if name == "include" and self.include is not None:
                problems += [f"include={path} (accepts {_listed(self.include)})" for path in value.split(",")
                             if path and path.split(".", 1)[0] not in self.include]
            elif name == "order" and self.order is not None:
                problems += [f"order={key} (accepts {_listed(self.order)})" for key in value.split(",")
                             if key and key.lstrip("-") not in self.order]
            elif name.startswith("where[") and self.query is not None:
                attribute = name[len("where["):].split("]", 1)[0]
                if attribute not in self.query:
                    problems.append(f"{name} (accepts where on {_listed(self.query)})")
            elif name == "filter" and self.filter is not None:
                problems += [f"filter={scope} (accepts {_listed(self.filter)})" for scope in value.split(",")
                             if scope and scope not in self.filter]
            elif name == "per_page" and self.per_page_max is not None:
                if not value.isdigit() or not 1 <= int(value) <= self.per_page_max:
                    problems.append(f"per_page={value} (PCO clamps to 1..{self.per_page_max})")
        return problems


def _listed(values: frozenset[str]) -> str:
    return ", ".join(sorted(values)) if values else "nothing"


@dataclass(frozen=True)
class Capability:
    """One row of the table: a PCO resource's listing as its reference page describes it."""

    key: str                        # "<app>/<collection>", as the sandbox and the catalog name it
    type: str
    version: str
    path: str
    reference: str
    recorded: str
    can_order: tuple[str, ...]
    can_query: tuple[str, ...]
    can_include: tuple[str, ...]
    can_filter: tuple[str, ...]
    per_page_max: int
    per_page_default: int
    default_order: str
    notes: str

    @property
    def app(self) -> str:
        return self.key.split("/", 1)[0]

    def keyset_on(self, attribute: str) -> bool:
        """True when PCO can both order and filter this listing by `attribute` (keyset paging)."""
        return attribute in self.can_order and attribute in self.can_query

    @property
    def updated_at(self) -> str:
        """How usable `updated_at` is: "order and query", "query only", "order only" or "no"."""
        ordered, queried = "updated_at" in self.can_order, "updated_at" in self.can_query
        return {(True, True): "order and query", (False, True): "query only",
                (True, False): "order only", (False, False): "no"}[(ordered, queried)]

    def accepts(self, *, nested_elsewhere: bool = False, single: bool = False) -> Accepts:
        """What a request for this resource may carry.

        `single`: a one-record GET (only `include` applies; PCO ignores the rest there).
        `nested_elsewhere`: listed under another parent than the row's own path (e.g.
        /events/{id}/check_ins), where the filter scopes differ and are not judged.
        """
        include = frozenset(self.can_include)
        if single:
            return Accepts(include=include, order=frozenset(), query=frozenset(), filter=frozenset())
        return Accepts(include=include, order=frozenset(self.can_order), query=frozenset(self.can_query),
                       filter=None if nested_elsewhere else frozenset(self.can_filter),
                       per_page_max=self.per_page_max)


def _load(path: Path) -> Mapping[str, Capability]:
    with path.open("rb") as handle:
        raw: dict[str, Any] = tomllib.load(handle)
    rows = {}
    for key, row in raw.items():
        rows[key] = Capability(
            key=key, type=row["type"], version=row["version"], path=row["path"], reference=row["reference"],
            recorded=row.get("recorded", ""), can_order=tuple(row["can_order"]), can_query=tuple(row["can_query"]),
            can_include=tuple(row["can_include"]), can_filter=tuple(row["can_filter"]),
            per_page_max=int(row["per_page_max"]), per_page_default=int(row["per_page_default"]),
            default_order=row["default_order"], notes=row.get("notes", ""))
    return MappingProxyType(rows)


CAPABILITIES: Mapping[str, Capability] = _load(TABLE_FILE)


def capability(key: str) -> Capability:
    """The row of `key` ("check-ins/locations"); KeyError lists the known keys."""
    try:
        return CAPABILITIES[key]
    except KeyError:
        raise KeyError(f"no capability row for {key!r}; the table has: {', '.join(CAPABILITIES)}") from None


@dataclass(frozen=True)
class Route:
    """What a request path names: a row, and whether it is one record or a (nested) listing."""

    capability: Capability
    single: bool
    nested_elsewhere: bool

    def accepts(self) -> Accepts:
        return self.capability.accepts(nested_elsewhere=self.nested_elsewhere, single=self.single)


def route_for(path: str) -> Route | None:
    """The row a request path reads, or None when the table does not describe it.

    `/<app>/v2/<collection>` lists a collection, `/<app>/v2/<collection>/<id>` reads one record,
    and a nested `/<app>/v2/<parent>/<id>/<collection>[/<id>]` lists (or reads) records of
    `<app>/<collection>`.
    """
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    if len(segments) < 3 or segments[1] != "v2":
        return None
    app, rest = segments[0], segments[2:]
    single = len(rest) % 2 == 0
    collection = rest[-2] if single else rest[-1]
    row = CAPABILITIES.get(f"{app}/{collection}")
    if row is None:
        return None
    own = [s for s in row.path.split("/") if s][2:]
    listing = rest[:-1] if single else rest
    same_route = len(own) == len(listing) and all(
        o.startswith("{") or o == s for o, s in zip(own, listing))
    return Route(capability=row, single=single, nested_elsewhere=not same_route)
