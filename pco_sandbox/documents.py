"""Records → JSON:API documents shaped exactly like live PCO's (checked against the recordings).

What the recordings show and this module reproduces:
* A collection document is `{links, data, included, meta}`; a single one `{data, included, meta}`
  with no top-level links. People 2026-06-04 (the recordings) leaves `included` out when it is
  empty; older versions (pypco's 2018-08-01 cassettes) and other apps print `included: []`.
* List items (and included resources) carry `links.self` (+ `links.html` for a Person); a single
  GET carries PCO's full links map (association URLs, `null` for an unset to-one).
* Without `include`, a resource shows only its default relationships (Person: `primary_campus`),
  data only. An included relationship gains `links.related` (the nested collection URL for a
  to-many, the target's URL for a set to-one).
* Included resources are de-duplicated by type and id (the primary rows themselves may appear),
  ordered row by row, path by path, level by level.
* A nested include `a.b` also puts a `b` relationship on each primary row holding the union of
  what `b` reached, with `links.related: null`, when that union is not empty (GOLD
  `inc_two_nested_paths`).
* `fields[Type]=…` restricts attributes and relationships of that type; fields-only attributes
  appear only when named. Includes are followed even when the fieldset omits the relationship.
* `links.next`/`prev` repeat the caller's parameters in alphabetical order with `offset`
  replaced; `per_page` is echoed as requested (even when clamped) and omitted when not sent.

Serialization is the sandbox's hot path, so documents are assembled from per-resource JSON
fragments that a `RenderCache` keeps while the record (and, when a rendered relationship is
derived from other records, the whole store) is unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from pco_sandbox.query import ListQuery, Page
from pco_sandbox.schema import (ADDRESS_STREET_LINES_SINCE, DEFAULT_VERSIONS, ORGANIZATION,
                                 WEBHOOK_SUBSCRIPTION_SINCE, Kind, Rel)
from pco_sandbox.store import Record, Ref, RelValue, Store

Document = dict[str, Any]

HTML_BASE = "https://people.planningcenteronline.com/people/AC"
OMITS_EMPTY_INCLUDED_SINCE = "2026-06-04"
_NO_REL = Rel("", False)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode_params(params: dict[str, str]) -> str:
    """PCO's link query: keys sorted and left readable, values form-encoded."""
    return "&".join(f"{key}={quote_plus(params[key], safe='')}" for key in sorted(params))


class RenderCache:
    """Serialized resources by (base URL, version, collection, id, fieldset, expanded relationships).

    An entry holds the record it was made from and, when it shows relationships derived from other
    records, the store version: it is reused only while both still hold.
    """

    def __init__(self, limit: int = 400_000) -> None:
        self._entries: dict[tuple, tuple[Record, int | None, str]] = {}
        self._limit = limit

    def get(self, key: tuple, record: Record, version: int) -> str | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] is record and (entry[1] is None or entry[1] == version):
            return entry[2]
        return None

    def put(self, key: tuple, record: Record, version: int | None, text: str) -> None:
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[key] = (record, version, text)


@dataclass
class Rendered:
    """A document assembled from JSON fragments; `to_bytes()` for HTTP, `to_dict()` for Python."""

    links: dict[str, str] | None
    data: list[str] | str
    included: list[str] | None     # None: leave the key out (empty, People 2026-06-04)
    meta: dict[str, Any]

    def to_bytes(self) -> bytes:
        parts = []
        if self.links is not None:
            parts.append(f'"links":{dumps(self.links)}')
        data = f"[{','.join(self.data)}]" if isinstance(self.data, list) else self.data
        parts.append(f'"data":{data}')
        if self.included is not None:
            parts.append(f'"included":[{",".join(self.included)}]')
        parts.append(f'"meta":{dumps(self.meta)}')
        return ("{" + ",".join(parts) + "}").encode()

    def to_dict(self) -> Document:
        return json.loads(self.to_bytes())


class Renderer:
    """Renders records for one request (the store held still meanwhile): knows the base URL, the
    organization and the API versions."""

    def __init__(self, store: Store, organization: Record, base_url: str, versions: dict[str, str] | None = None,
                 cache: RenderCache | None = None):
        self.store = store
        self.organization = organization
        self.base_url = base_url.rstrip("/")
        self.versions = dict(DEFAULT_VERSIONS)
        self.versions.update(versions or {})
        self.cache = cache
        self._prefixes: dict[str, str] = {}
        self._resolved: dict[tuple[str, str, str], tuple[Kind | None, RelValue, list[Record]]] = {}

    # --- URLs -----------------------------------------------------------------------------------

    def collection_name(self, kind: Kind) -> str:
        if kind.key == "webhooks/subscriptions" and self.versions["webhooks"] >= WEBHOOK_SUBSCRIPTION_SINCE:
            return "webhook_subscriptions"
        return kind.collection

    def type_name(self, kind: Kind, record: Record) -> str:
        if kind.key == "webhooks/subscriptions":
            return ("WebhookSubscription" if self.versions["webhooks"] >= WEBHOOK_SUBSCRIPTION_SINCE
                    else "Subscription")
        return record.type

    def app_url(self, app: str) -> str:
        return f"{self.base_url}/{app}/v2"

    def _prefix(self, kind: Kind) -> str:
        prefix = self._prefixes.get(kind.key)
        if prefix is None:
            prefix = self._prefixes[kind.key] = f"{self.app_url(kind.app)}/{self.collection_name(kind)}/"
        return prefix

    def url_for(self, kind: Kind, record: Record) -> str:
        """The canonical URL of a record; kinds without a top-level route nest under their parent."""
        if kind.top_level or kind.parent_rel is None:
            return self._prefix(kind) + record.id
        parent_kind = self.store.kind(kind.relationships[kind.parent_rel].target)
        parent_id = next(iter(record.rel_ids(kind.parent_rel)), "")
        parent = self.store.get(parent_kind.key, parent_id) if parent_kind else None
        if parent is None or parent_kind is None:
            return self._prefix(kind) + record.id
        return f"{self.url_for(parent_kind, parent)}/{self.collection_name(kind)}/{record.id}"

    def url_for_ref(self, target_key: str, ref: Ref) -> str:
        target = self.store.kind(target_key)
        if target is not None:
            record = self.store.get(target_key, ref[1])
            if record is not None:
                return self.url_for(target, record)
        app, collection = target_key.split("/", 1)
        return f"{self.app_url(app)}/{collection}/{ref[1]}"

    # --- relationships --------------------------------------------------------------------------

    def resolve(self, kind: Kind, record: Record, name: str) -> tuple[Kind | None, RelValue, list[Record]]:
        """(target kind, relationship data, the target records that exist) for one relationship."""
        rel = kind.relationships.get(name)
        store = self.store
        if rel is None:
            return None, record.relationships.get(name), []
        target = store.kind(rel.target)
        if rel.source == "stored":
            value = record.relationships.get(name, [] if rel.to_many else None)
            if target is None or value is None:
                return target, value, []
            if isinstance(value, tuple):
                found = store.get(rel.target, value[1])
                return target, value, [found] if found is not None else []
            return target, value, [r for r in (store.get(rel.target, ref[1]) for ref in value) if r is not None]
        memo_key = (kind.key, record.id, name)  # derived sides are asked for twice per included row
        memo = self._resolved.get(memo_key)
        if memo is not None:
            return memo
        if rel.source == "reverse":
            if rel.via is None:
                raise ValueError(f"{kind.key}.{name}: a reverse relationship names the child's relationship (via)")
            children = store.children(rel.target, rel.via, record.id)
            if rel.via == "customizable":  # field data of a Person, not of the Organization
                children = [c for c in children
                            if isinstance(owner := c.relationships.get("customizable"), tuple) and owner[0] == kind.type]
            memo = (target, [c.ref() for c in children], children)
            self._resolved[memo_key] = memo
            return memo
        if rel.source == "household_people":
            refs = store.household_people(record.id)
            return target, refs, [p for p in (store.get("people/people", ref[1]) for ref in refs) if p]
        if rel.source == "member_of":
            households = store.person_households(record.id)
            return target, [h.ref() for h in households], households
        if rel.source == "organization":
            return ORGANIZATION, self.organization.ref(), [self.organization]
        raise ValueError(f"unknown relationship source {rel.source!r}")

    def _rendered_relationships(self, kind: Kind, record: Record, fieldset: set[str] | None,
                                expanded: set[str] | frozenset[str]) -> list[str]:
        if fieldset is not None:
            known = set(kind.relationships) | set(record.relationships)
            return [n for n in fieldset if n in known and not kind.relationships.get(n, _NO_REL).hidden]
        names = list(kind.default_relationships)
        if kind.render_stored_relationships:
            names += [name for name in record.relationships
                      if name not in names and not kind.relationships.get(name, _NO_REL).hidden]
        names += [n for n in expanded if n not in names]
        return names

    def _relationship_object(self, kind: Kind, record: Record, name: str, with_links: bool) -> dict[str, Any]:
        rel = kind.relationships.get(name)
        if rel is None or rel.source == "stored":
            value = record.relationships.get(name)
        else:
            value = self.resolve(kind, record, name)[1]
        if rel is not None and rel.to_many and value is None:
            value = []
        data: Any
        if isinstance(value, list):
            data = [{"id": ref[1], "type": ref[0]} for ref in value]
        elif value is None:
            data = None
        else:
            data = {"id": value[1], "type": value[0]}
        out: dict[str, Any] = {"data": data}
        if with_links:
            if isinstance(value, list):
                out["links"] = {"related": f"{self.url_for(kind, record)}/{name}"}
            elif value is not None:
                target_key = rel.target if rel is not None else f"{kind.app}/{name}s"
                out["links"] = {"related": self.url_for_ref(target_key, value)}
        return out

    # --- resources ------------------------------------------------------------------------------

    def resource(self, kind: Kind, record: Record, *, fields: dict[str, set[str]] | None = None,
                 expanded: set[str] | frozenset[str] = frozenset(), hoisted: dict[str, list[Ref]] | None = None,
                 single: bool = False, names: list[str] | None = None) -> dict[str, Any]:
        """One resource object. `expanded` names relationships reached by `include` (rendered with
        links), `hoisted` the nested-include unions PCO adds to primary rows; `names` the
        relationships to show when the caller already worked them out."""
        type_name = self.type_name(kind, record)
        fieldset = fields.get(type_name) if fields else None
        if names is None:
            names = self._rendered_relationships(kind, record, fieldset, expanded)
        relationships = {name: self._relationship_object(kind, record, name, name in expanded) for name in names}
        for name, refs in (hoisted or {}).items():
            if refs and name not in relationships and (fieldset is None or name in fieldset):
                relationships[name] = {"data": [{"id": ref[1], "type": ref[0]} for ref in refs],
                                       "links": {"related": None}}
        out: dict[str, Any] = {"type": type_name, "id": record.id,
                               "attributes": self._attributes(kind, record, fieldset)}
        if relationships:
            out["relationships"] = relationships
        out["links"] = self._single_links(kind, record) if single else self._list_links(kind, record)
        return out

    def resource_json(self, kind: Kind, record: Record, *, fields: dict[str, set[str]] | None = None,
                      expanded: set[str] | frozenset[str] = frozenset(), hoisted: dict[str, list[Ref]] | None = None,
                      single: bool = False) -> str:
        """`resource()` serialized, from the cache when nothing it shows has changed."""
        if self.cache is None or hoisted or single:
            return dumps(self.resource(kind, record, fields=fields, expanded=expanded, hoisted=hoisted, single=single))
        fieldset = fields.get(self.type_name(kind, record)) if fields else None
        key = (self.base_url, self.versions[kind.app], kind.key, record.id,
               None if fieldset is None else frozenset(fieldset), frozenset(expanded))
        version = self.store.version
        text = self.cache.get(key, record, version)
        if text is None:
            names = self._rendered_relationships(kind, record, fieldset, expanded)
            derived = expanded or any(kind.relationships.get(n, _NO_REL).source != "stored" for n in names) or \
                not kind.top_level  # a nested self link follows the parent
            text = dumps(self.resource(kind, record, fields=fields, expanded=expanded, names=names))
            self.cache.put(key, record, version if derived else None, text)
        return text

    def _attributes(self, kind: Kind, record: Record, fieldset: set[str] | None) -> dict[str, Any]:
        attributes = record.attributes
        if kind.key == "people/addresses" and self.versions["people"] < ADDRESS_STREET_LINES_SINCE:
            attributes = _address_2018(attributes)
        if fieldset is None:
            if not kind.fields_only:
                return attributes
            return {k: v for k, v in attributes.items() if k not in kind.fields_only}
        return {k: attributes[k] for k in attributes if k in fieldset}

    def _list_links(self, kind: Kind, record: Record) -> dict[str, Any]:
        if kind.html_link:
            return {"html": f"{HTML_BASE}{record.id}", "self": self.url_for(kind, record)}
        return {"self": self.url_for(kind, record)}

    def _single_links(self, kind: Kind, record: Record) -> dict[str, Any]:
        self_url = self.url_for(kind, record)
        links: dict[str, Any] = {}
        for name in kind.single_links:
            rel_name = kind.link_aliases.get(name, name)
            rel = kind.relationships.get(rel_name)
            if rel is not None and not rel.to_many and rel.source == "stored":
                value = record.relationships.get(rel_name)
                links[name] = self.url_for_ref(rel.target, value) if isinstance(value, tuple) else None
            else:
                links[name] = f"{self_url}/{name}"
        if kind.html_link:
            links["html"] = f"{HTML_BASE}{record.id}"
        links["self"] = self_url
        return links

    # --- documents ------------------------------------------------------------------------------

    def _included(self, kind: Kind, rows: list[Record], query: ListQuery
                  ) -> tuple[list[str], dict[str, dict[str, list[Ref]]], set[str]]:
        """(included resources as JSON, hoisted relationships per primary id, first-level names)."""
        order: list[tuple[Kind, Record]] = []
        expanded: dict[tuple[str, str], set[str]] = {}
        hoisted: dict[str, dict[str, list[Ref]]] = {}
        first_level: set[str] = set()
        seen: set[tuple[str, str]] = set()
        for row in rows:
            for path in query.include:
                frontier: list[tuple[Kind, Record]] = [(kind, row)]
                for depth, name in enumerate(path):
                    next_frontier: list[tuple[Kind, Record]] = []
                    reached: set[tuple[str, str]] = set()
                    for node_kind, node in frontier:
                        if name not in node_kind.includes:
                            continue
                        if depth == 0:
                            first_level.add(name)
                        else:
                            expanded.setdefault((node.type, node.id), set()).add(name)
                        target_kind, value, targets = self.resolve(node_kind, node, name)
                        if depth > 0:
                            refs = [value] if isinstance(value, tuple) else list(value or [])
                            bucket = hoisted.setdefault(row.id, {}).setdefault(name, [])
                            bucket.extend(ref for ref in refs if ref not in bucket)
                        if target_kind is None:
                            continue
                        for target in targets:
                            ident = (target.type, target.id)
                            if ident not in seen:
                                seen.add(ident)
                                order.append((target_kind, target))
                            if ident not in reached:
                                reached.add(ident)
                                next_frontier.append((target_kind, target))
                    frontier = next_frontier
        included = [self.resource_json(k, r, fields=query.fields, expanded=expanded.get((r.type, r.id), frozenset()))
                    for k, r in order]
        return included, hoisted, first_level

    def collection(self, kind: Kind, page: Page, query: ListQuery, path: str,
                   parent: dict[str, str] | None, can_filter: tuple[str, ...]) -> Rendered:
        included, hoisted, first_level = self._included(kind, page.rows, query)
        expanded = frozenset(first_level)
        data = [self.resource_json(kind, row, fields=query.fields, expanded=expanded, hoisted=hoisted.get(row.id))
                for row in page.rows]
        self_url = f"{self.base_url}{path}"
        links = {"self": _with_query(self_url, query.params)}
        meta: dict[str, Any] = {"total_count": page.total, "count": len(page.rows)}
        if page.next_offset is not None:
            links["next"] = _with_query(self_url, {**query.params, "offset": str(page.next_offset)})
            meta["next"] = {"offset": page.next_offset}
        if page.prev_offset is not None:
            links["prev"] = _with_query(self_url, {**query.params, "offset": str(page.prev_offset)})
            meta["prev"] = {"offset": page.prev_offset}
        _can_meta(meta, kind, can_filter)
        meta["parent"] = parent or self.organization_ref()
        return Rendered(links, data, self._included_or_none(kind, included), meta)

    def single(self, kind: Kind, record: Record, query: ListQuery, parent: dict[str, str] | None = None) -> Rendered:
        included, hoisted, first_level = self._included(kind, [record], query)
        data = self.resource_json(kind, record, fields=query.fields, expanded=first_level,
                                  hoisted=hoisted.get(record.id), single=True)
        meta: dict[str, Any] = {}
        if kind.includes:
            meta["can_include"] = list(kind.includes)
        meta["parent"] = parent or self.organization_ref()
        return Rendered(None, data, self._included_or_none(kind, included), meta)

    def _included_or_none(self, kind: Kind, included: list[str]) -> list[str] | None:
        if not included and kind.app == "people" and self.versions["people"] >= OMITS_EMPTY_INCLUDED_SINCE:
            return None
        return included

    def organization_ref(self) -> dict[str, str]:
        return {"id": self.organization.id, "type": "Organization"}

    def organization_document(self, app: str) -> Document:
        links = {kind.collection: f"{self.app_url(app)}/{self.collection_name(kind)}"
                 for kind in self.store.kinds() if kind.app == app and kind.top_level}
        links["self"] = self.app_url(app)
        data = {"type": "Organization", "id": self.organization.id, "attributes": dict(self.organization.attributes),
                "links": links}
        return {"data": data, "included": [], "meta": {}}


def _can_meta(meta: dict[str, Any], kind: Kind, can_filter: tuple[str, ...]) -> None:
    if kind.includes:
        meta["can_include"] = list(kind.includes)
    if kind.order_by:
        meta["can_order_by"] = list(kind.order_by)
    if kind.query_by:
        meta["can_query_by"] = list(kind.query_by)
    if can_filter:
        meta["can_filter"] = list(can_filter)


def _with_query(url: str, params: dict[str, str]) -> str:
    return f"{url}?{encode_params(params)}" if params else url


def _address_2018(attributes: dict[str, Any]) -> dict[str, Any]:
    """Address as the 2018-08-01 People API shaped it: one `street`, no country fields."""
    out = {k: v for k, v in attributes.items()
           if k not in ("street_line_1", "street_line_2", "country_code", "country_name")}
    lines = [attributes.get("street_line_1"), attributes.get("street_line_2")]
    out["street"] = "\n".join(line for line in lines if line) or None
    return out
