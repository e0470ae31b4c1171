"""Synthetic records for any resource of PCO's reference table (`pco_reference`).

`dataset(key, count)` makes `count` records of one sandbox collection with a value for every
attribute (varied, and not in id order, so an honoured `order` or `where` is visible), and the
records each relationship the sandbox resolves points at, so every include has something to
include. A nested collection (group memberships, household memberships) hangs all its records
under one parent. Used by the sandbox's table-driven conformance test and the extract tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pco_reference import capability
from pco_sandbox.schema import BOOL, DATE, DATETIME, FLOAT, INT, JSON, KINDS, Kind

BASE = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
RELATED = 3          # records made per relationship target collection


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def attribute_value(name: str, type_: str, i: int) -> Any:
    """A value for attribute `name` of record number `i`: a few distinct values, not monotonic in i."""
    if type_ == INT:
        return (i * 5) % 17
    if type_ == FLOAT:
        return ((i * 5) % 17) / 2
    if type_ == BOOL:
        return i % 3 == 0
    if type_ == DATE:
        return (BASE.date() + timedelta(days=(i * 13) % 40)).isoformat()
    if type_ == DATETIME:
        return _iso(BASE + timedelta(minutes=(i * 37) % 997))
    if type_ == JSON:
        return None
    return f"{name} {(i * 7) % 11}"


def _attributes(kind: Kind, i: int) -> dict[str, Any]:
    return {name: attribute_value(name, type_, i) for name, type_ in kind.attributes.items()}


def _ref(kind: Kind, record_id: str) -> dict[str, str]:
    return {"type": kind.type, "id": record_id}


@dataclass
class Dataset:
    """Sandbox load data for one collection under test, and how to list it."""

    key: str
    ids: list[str]                                   # the records under test, ascending id
    data: dict[str, list[dict]] = field(default_factory=dict)
    parent_id: str | None = None                     # nested listings: the parent they hang under

    @property
    def listing_path(self) -> str:
        path = capability(self.key).path
        if "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + str(self.parent_id) + path[end + 1:]
        return path

    def records(self) -> list[dict]:
        return self.data[self.key]


def dataset(key: str, count: int, *, first_id: int = 7_000_001) -> Dataset:
    """`count` records of `key` and the records their relationships name (see the module docstring)."""
    kind = KINDS[key]
    out = Dataset(key=key, ids=[str(first_id + i) for i in range(count)])
    data = out.data
    next_id = iter(range(9_000_001, 10_000_000))
    made: dict[str, list[str]] = {}

    def related(target_key: str) -> list[str]:
        """Ids of RELATED records of `target_key`, made once."""
        if target_key not in made:
            target = KINDS[target_key]
            made[target_key] = [str(next(next_id)) for _ in range(RELATED)]
            data.setdefault(target_key, []).extend(
                {"type": target.type, "id": record_id, "attributes": _attributes(target, n + 3), "relationships": {}}
                for n, record_id in enumerate(made[target_key]))
        return made[target_key]

    relationships: list[dict[str, Any]] = [{} for _ in range(count)]
    for name, rel in kind.relationships.items():
        target = KINDS.get(rel.target)
        if target is None or rel.source == "organization":
            continue
        if rel.source in ("stored", "household_people"):
            if rel.target == key:  # a record of the same collection: point at one of the first ones
                targets = out.ids[:RELATED]
            else:
                targets = related(rel.target)
            if name == kind.parent_rel:
                out.parent_id = targets[0]
            for i, links in enumerate(relationships):
                chosen = targets[0] if name == kind.parent_rel else targets[(i * 2) % len(targets)]
                if rel.target == key and chosen == out.ids[i]:
                    continue  # nothing is its own parent
                links[name] = {"data": [_ref(target, chosen)] if rel.to_many else _ref(target, chosen)}
        elif rel.source == "reverse" and rel.target != key:
            child_kind = KINDS[rel.target]
            assert rel.via is not None  # a reverse relationship names the child's link back
            via = child_kind.relationships.get(rel.via)
            for i in range(RELATED):  # children of the first few records
                child_id = str(next(next_id))
                child_links: dict[str, Any] = {rel.via: {"data": [_ref(kind, out.ids[i])] if via is not None
                                                         and via.to_many else _ref(kind, out.ids[i])}}
                if child_kind.parent_rel and child_kind.parent_rel != rel.via:  # it only exists under a parent
                    parent = child_kind.relationships[child_kind.parent_rel]
                    child_links[child_kind.parent_rel] = {"data": _ref(KINDS[parent.target], related(parent.target)[0])}
                data.setdefault(rel.target, []).append({"type": target.type, "id": child_id,
                                                        "attributes": _attributes(target, i),
                                                        "relationships": child_links})
        elif rel.source == "member_of":  # a household holding the first few people
            household_id = str(next(next_id))
            data.setdefault(rel.target, []).append({
                "type": target.type, "id": household_id, "attributes": _attributes(target, 1),
                "relationships": {"people": {"data": [_ref(kind, i) for i in out.ids[:RELATED]]}}})
    data.setdefault(key, []).extend(
        {"type": kind.type, "id": record_id, "attributes": _attributes(kind, i), "relationships": relationships[i]}
        for i, record_id in enumerate(out.ids))
    return out
