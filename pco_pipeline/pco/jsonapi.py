"""JSON:API documents → plain records the sync code can use directly.

A PCO response is `{"data": …, "included": […], "links": …, "meta": …}`. `parse_document`
turns it into `Resource` objects whose `related` map holds the included resources each
relationship names, from a record or from another included resource (nested includes such as
`households.people`, where PCO repeats people of the page in `included`). Relationships resolve
against `included` only, never to the page's primary records: an email's `person` points back
up, and resolving it would tie every page into reference cycles that only Python's cyclic
collector frees — a third of the client's CPU per page. So a page is freed as soon as the caller
drops it. A resource named by a relationship but absent from `included` (a link back up, or
PCO's included lagging a write) is absent from `related`; its id is still in `relationship_ids`.

A malformed resource (no type or id, non-object attributes) fails alone: it becomes a
`RecordError` and the rest of the page is returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Ref = tuple[str, str]  # (type, id)


@dataclass(eq=False, slots=True)
class Resource:
    """One JSON:API resource object, with its relationships resolved where `included` allows."""

    type: str
    id: str
    attributes: dict[str, Any]
    # relationship name -> a ref, a list of refs, or None (to-one unset); absent = not sent
    relationships: dict[str, Ref | list[Ref] | None]
    links: dict[str, Any] = field(default_factory=dict)
    related: dict[str, "Resource | list[Resource] | None"] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, attribute: str) -> Any:
        return self.attributes[attribute]

    def get(self, attribute: str, default: Any = None) -> Any:
        return self.attributes.get(attribute, default)

    def relationship_ids(self, name: str) -> list[str]:
        """Ids named by relationship `name` (empty when absent or unset)."""
        value = self.relationships.get(name)
        if value is None:
            return []
        if isinstance(value, tuple):
            return [value[1]]
        return [ref[1] for ref in value]

    def related_list(self, name: str) -> list["Resource"]:
        """Included resources of relationship `name` as a list (empty when none were included)."""
        value = self.related.get(name)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]


@dataclass(frozen=True, slots=True)
class RecordError:
    """A resource object that could not be read; the rest of its page was."""

    reason: str
    raw: Any


@dataclass(slots=True)
class ParsedDocument:
    records: list[Resource]
    errors: list[RecordError]
    included: list[Resource]
    links: dict[str, Any]
    meta: dict[str, Any]


class DocumentError(ValueError):
    """The document as a whole is not JSON:API (no `data`, or not an object)."""


def _is_object(value: Any) -> bool:
    # `type(...) is dict` first: decoded JSON is always a dict, and the ABC check is the
    # costliest line of a page of 300 resources
    return type(value) is dict or isinstance(value, Mapping)


def _ref(value: Any) -> Ref:
    try:
        return (str(value["type"]), str(value["id"]))
    except (KeyError, TypeError):
        raise ValueError(f"relationship data {value!r} is not a {{type, id}} object") from None


def parse_resource(obj: Any) -> Resource:
    """One resource object → Resource (relationships unresolved). Raises ValueError when malformed.

    The Resource shares its attributes, links and raw dicts with the decoded document (no copies:
    a listing parses 300 resources a page, and the document is discarded afterwards).
    """
    if not _is_object(obj):
        raise ValueError(f"resource is a {type(obj).__name__}, not an object")
    type_, id_ = obj.get("type"), obj.get("id")
    if not type_ or id_ is None or id_ == "":
        raise ValueError("resource has no type or no id")
    attributes = obj.get("attributes") or {}
    if not _is_object(attributes):
        raise ValueError(f"attributes of {type_} {id_} are not an object")
    relationships: dict[str, Ref | list[Ref] | None] = {}
    for name, rel in (obj.get("relationships") or {}).items():
        if not _is_object(rel) or "data" not in rel:
            continue  # links-only relationship: nothing to resolve
        data = rel["data"]
        if data is None:
            relationships[name] = None
        elif type(data) is list:
            relationships[name] = [_ref(item) for item in data]
        else:
            relationships[name] = _ref(data)
    return Resource(type=str(type_), id=str(id_), attributes=attributes, relationships=relationships,
                    links=obj.get("links") or {}, raw=obj)


def parse_document(document: Any) -> ParsedDocument:
    """Parse a whole response document; `data` may be one resource or a list of them."""
    if not _is_object(document) or "data" not in document:
        raise DocumentError("response is not a JSON:API document (no top-level 'data')")
    data = document["data"]
    items = data if isinstance(data, list) else ([] if data is None else [data])

    records: list[Resource] = []
    errors: list[RecordError] = []
    for item in items:
        try:
            records.append(parse_resource(item))
        except ValueError as exc:
            errors.append(RecordError(reason=str(exc), raw=item))

    included: list[Resource] = []
    for item in document.get("included") or []:
        try:
            included.append(parse_resource(item))
        except ValueError:
            continue  # a broken included object only loses that relationship target

    index = {(r.type, r.id): r for r in included}  # never the records: no link back up
    for resource in (*records, *included):
        for name, refs in resource.relationships.items():
            if refs is None:
                resource.related[name] = None
            elif isinstance(refs, tuple):
                if refs in index:
                    resource.related[name] = index[refs]
            else:
                resource.related[name] = [index[ref] for ref in refs if ref in index]
    return ParsedDocument(records=records, errors=errors, included=included,
                          links=dict(document.get("links") or {}), meta=dict(document.get("meta") or {}))
