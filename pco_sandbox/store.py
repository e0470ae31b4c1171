"""The sandbox's in-memory organization: JSON:API resources by "<app>/<collection>".

`Store.load(data)` takes `{"people/emails": [resource, …], …}` where each resource is a JSON:API
resource object (`type`, `id`, `attributes`, `relationships`); `links`/`meta` are ignored. The
same loader takes the seeded synthetic church and the resources collected from the live
recordings. Nested collections are derived from relationships: a person's emails are the emails
whose `person` points at them, a household's people are its memberships' people (in membership
order), and so on (see schema.Rel).

Household memberships may be given explicitly (`people/household_memberships`, each with a
`household` relationship, or a `links.self` under `/households/{id}/`); for a household that has
none, memberships are made from its `relationships.people`, in that order.

Records are never changed in place once stored: a change stores a new Record (`replace`), so
readers may cache anything derived from a record by its identity. Every method takes the store's
re-entrant lock, and readers that need one consistent view over
several calls hold `store.lock` themselves. `version` increases on every change, so readers can
cache derived results.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from pco_sandbox.schema import KINDS, Kind, adhoc_kind

Ref = tuple[str, str]  # (type, id)
RelValue = Ref | list[Ref] | None

_MEMBERSHIP_SELF = re.compile(r"/households/(\d+)/household_memberships/")


def id_sort_key(resource_id: str) -> tuple[int, int | str]:
    """PCO orders ids numerically (8- and 9-digit ids mix); non-numeric ids sort after."""
    return (0, int(resource_id)) if resource_id.isdigit() else (1, resource_id)


class Record:
    """One stored resource. `relationships` holds refs only (no links)."""

    __slots__ = ("type", "id", "attributes", "relationships", "sort_key")

    def __init__(self, type_: str, id_: str, attributes: dict[str, Any], relationships: dict[str, RelValue]):
        self.type = type_
        self.id = id_
        self.attributes = attributes
        self.relationships = relationships
        self.sort_key = id_sort_key(id_)

    def ref(self) -> Ref:
        return (self.type, self.id)

    def rel_ids(self, name: str) -> list[str]:
        value = self.relationships.get(name)
        if value is None:
            return []
        if isinstance(value, tuple):
            return [value[1]]
        return [ref[1] for ref in value]

    def copy(self) -> "Record":
        return Record(self.type, self.id, dict(self.attributes),
                      {k: (list(v) if isinstance(v, list) else v) for k, v in self.relationships.items()})

    def __repr__(self) -> str:
        return f"Record({self.type} {self.id})"


class LoadError(ValueError):
    """The data given to `Store.load` is not a set of JSON:API resource objects."""


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.version = 0
        self._kinds: dict[str, Kind] = dict(KINDS)
        self._records: dict[str, dict[str, Record]] = {key: {} for key in self._kinds}
        self._ordered: dict[str, list[Record]] = {key: [] for key in self._kinds}
        # (child key, relationship name) -> target id -> children ordered by id
        self._reverse: dict[tuple[str, str], dict[str, list[Record]]] = {}
        # Per collection, the highest numeric id ever deleted: PCO never hands a deleted id out again,
        # and a client still holding it must not find a new record under it.
        self._retired_up_to: dict[str, int] = {}

    # --- catalog --------------------------------------------------------------------------------

    def kind(self, key: str) -> Kind | None:
        return self._kinds.get(key)

    def require_kind(self, key: str) -> Kind:
        """The kind of a collection the sandbox is built with (a KeyError is a bug, not bad input)."""
        return self._kinds[key]

    def kinds(self) -> list[Kind]:
        return list(self._kinds.values())

    def kind_by_type(self, app: str, type_: str) -> Kind | None:
        for kind in self._kinds.values():
            if kind.app == app and kind.type == type_:
                return kind
        return None

    # --- loading --------------------------------------------------------------------------------

    def load(self, data: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
        """Add the resources in `data` ("<app>/<collection>" → resource objects) to the store.

        A resource whose id is already stored has its attributes and relationships merged in.
        Raises LoadError naming the collection and resource when an object is not a resource.
        """
        with self.lock:
            memberships_given = "people/household_memberships" in data
            for key, resources in data.items():
                resources = list(resources)
                kind = self._kinds.get(key)
                if kind is None:
                    kind = self._register_adhoc(key, resources)
                for resource in resources:
                    self._load_one(kind, resource)
            if memberships_given or "people/households" in data:
                self._derive_household_memberships(data.get("people/households", ()))
            self._retire_merged_away_ids(data.get("people/person_mergers", ()))
            self._fill_derived_attributes()
            self._rebuild_indexes()
            self.version += 1

    def _retire_merged_away_ids(self, mergers: Iterable[Mapping[str, Any]]) -> None:
        """A merged-away person's id is gone from /people but PCO never hands it out again."""
        for merger in mergers:
            removed = str(((merger.get("attributes") or {}) if _is_mapping(merger) else {})
                          .get("person_to_remove_id") or "")
            if removed.isdigit():
                self._retired_up_to["people/people"] = max(self._retired_up_to.get("people/people", 0), int(removed))

    def _register_adhoc(self, key: str, resources: list[Mapping[str, Any]]) -> Kind:
        if key.count("/") != 1:
            raise LoadError(f"collection key {key!r} is not '<app>/<collection>'")
        samples: dict[str, Any] = {}
        type_ = None
        for resource in resources:
            if not _is_mapping(resource):
                continue  # _load_one refuses it, naming the collection
            type_ = type_ or resource.get("type")
            for name, value in (resource.get("attributes") or {}).items():
                if samples.get(name) is None:
                    samples[name] = value
        kind = adhoc_kind(key, type_ or key.split("/")[1], samples)
        self._kinds[key] = kind
        self._records[key] = {}
        self._ordered[key] = []
        return kind

    def _load_one(self, kind: Kind, resource: Mapping[str, Any]) -> None:
        if not _is_mapping(resource) or "id" not in resource:
            raise LoadError(f"{kind.key}: not a JSON:API resource object: {resource!r:.200}")
        resource_id = str(resource["id"])
        attributes = resource.get("attributes") or {}
        if not _is_mapping(attributes):
            raise LoadError(f"{kind.key} {resource_id}: attributes must be an object")
        relationships: dict[str, RelValue] = {}
        for name, value in (resource.get("relationships") or {}).items():
            rel = kind.relationships.get(name)
            if rel is not None and rel.source != "stored":
                continue  # derived from the other side; a loaded copy could only disagree
            relationships[name] = _parse_rel(value, f"{kind.key} {resource_id} relationship {name}")
        parent = resource.get("_parent")
        if parent is not None:
            parent_ref = _parse_ref(parent, f"{kind.key} {resource_id} _parent")
            relationships.setdefault(_parent_relationship(kind, parent_ref[0]), parent_ref)
        if kind.key == "people/household_memberships" and "household" not in relationships:
            match = _MEMBERSHIP_SELF.search(str((resource.get("links") or {}).get("self", "")))
            if match is None:
                raise LoadError(f"household membership {resource_id} names no household (give "
                                "relationships.household, _parent, or a links.self under /households/{id}/)")
            relationships["household"] = ("Household", match.group(1))
        existing = self._records[kind.key].get(resource_id)
        if existing is not None:  # merged into a new record: readers may cache by record identity
            merged = existing.copy()
            merged.attributes.update(attributes)
            merged.relationships.update(relationships)
            self._records[kind.key][resource_id] = merged
            return
        if kind.attributes.keys() <= attributes.keys():
            full = dict(attributes)  # complete (e.g. a snapshot): keep the order it is rendered in
        else:
            full = {name: None for name in kind.attributes}
            full.update(attributes)
        self._records[kind.key][resource_id] = Record(resource.get("type") or kind.type, resource_id, full,
                                                      relationships)

    def _derive_household_memberships(self, households: Iterable[Mapping[str, Any]]) -> None:
        memberships = self._records["people/household_memberships"]
        covered = {hid for m in memberships.values() for hid in m.rel_ids("household")}
        next_id = max((int(i) for i in memberships if i.isdigit()), default=0) + 1
        for household in households:
            household_id = str(household["id"])
            if household_id in covered:
                continue
            people = (household.get("relationships") or {}).get("people")
            refs = _parse_rel(people, f"household {household_id} people")
            for ref in refs if isinstance(refs, list) else [refs] if refs else []:
                membership = Record("HouseholdMembership", str(next_id),
                                    {"household_role": None, "pending": False, "person_name": None},
                                    {"person": ref, "household": ("Household", household_id)})
                memberships[membership.id] = membership
                next_id += 1
            covered.add(household_id)

    def _fill_derived_attributes(self) -> None:
        people = self._records["people/people"]
        for person in list(people.values()):
            if person.attributes.get("name") is None and ("first_name" in person.attributes):
                named = person.copy()
                named.attributes["name"] = person_display_name(named.attributes)
                people[person.id] = named
        memberships = self._records["people/household_memberships"]
        for membership in list(memberships.values()):
            if membership.attributes.get("person_name") is None:
                person = people.get(next(iter(membership.rel_ids("person")), ""))
                if person is not None:
                    named = membership.copy()
                    named.attributes["person_name"] = person.attributes.get("name")
                    memberships[membership.id] = named

    def _rebuild_indexes(self) -> None:
        for key, records in self._records.items():
            self._ordered[key] = sorted(records.values(), key=_sort_key)
        self._reverse.clear()

    # --- reads ----------------------------------------------------------------------------------

    def get(self, key: str, resource_id: str) -> Record | None:
        with self.lock:
            return self._records.get(key, {}).get(resource_id)

    def require(self, key: str, resource_id: str) -> Record:
        """A record the caller knows exists (just written, or checked under the lock)."""
        record = self.get(key, resource_id)
        if record is None:
            raise KeyError(f"{key} {resource_id} is not in the store")
        return record

    def all(self, key: str) -> list[Record]:
        """Every record of a collection, ordered by numeric id (the list is shared: don't mutate)."""
        with self.lock:
            return self._ordered.get(key, [])

    def count(self, key: str) -> int:
        with self.lock:
            return len(self._records.get(key, {}))

    def children(self, child_key: str, rel_name: str, target_id: str) -> list[Record]:
        """Records of `child_key` whose relationship `rel_name` names `target_id`, by id."""
        with self.lock:
            index = self._reverse.get((child_key, rel_name))
            if index is None:
                index = {}
                for record in self._ordered.get(child_key, []):
                    for target in record.rel_ids(rel_name):
                        index.setdefault(target, []).append(record)
                self._reverse[(child_key, rel_name)] = index
            return index.get(target_id, [])

    def household_people(self, household_id: str) -> list[Ref]:
        """A household's members as Person refs, in membership order."""
        return [person for m in self.children("people/household_memberships", "household", household_id)
                if isinstance(person := m.relationships.get("person"), tuple)]

    def person_households(self, person_id: str) -> list[Record]:
        """Households holding a membership for the person, by household id."""
        with self.lock:
            households = self._records["people/households"]
            found = {hid: households[hid]
                     for m in self.children("people/household_memberships", "person", person_id)
                     for hid in m.rel_ids("household") if hid in households}
            return sorted(found.values(), key=_sort_key)

    # --- writes ---------------------------------------------------------------------------------

    def next_id(self, key: str) -> str:
        with self.lock:
            return str(self._next_numeric_id(key))

    def _next_numeric_id(self, key: str) -> int:
        ordered = self._ordered[key]
        numeric_end = bisect.bisect_left(ordered, (1, ""), key=_sort_key)  # numeric ids sort first
        highest = int(ordered[numeric_end - 1].sort_key[1]) if numeric_end else 0
        return max(highest, self._retired_up_to.get(key, 0)) + 1

    def id_counters(self) -> dict[str, int]:
        """The id each collection hands out next (`next_id`), for a snapshot."""
        with self.lock:
            return {key: self._next_numeric_id(key) for key in self._records}

    def restore_id_counters(self, counters: Mapping[str, int]) -> None:
        """Never hand out an id below `counters[key]` (ids deleted before a snapshot stay retired)."""
        with self.lock:
            for key, next_id in counters.items():
                self._retired_up_to[key] = max(self._retired_up_to.get(key, 0), int(next_id) - 1)

    def insert(self, key: str, record: Record) -> Record:
        with self.lock:
            records = self._records[key]
            if record.id in records:
                raise KeyError(f"{key} {record.id} already exists")
            records[record.id] = record
            bisect.insort(self._ordered[key], record, key=_sort_key)
            self._index_add(key, record)
            self.version += 1
            return record

    def replace(self, key: str, record: Record) -> Record:
        """Store `record` in place of the record with the same id (relationships may change)."""
        with self.lock:
            old = self._records[key][record.id]
            self._index_remove(key, old)
            self._records[key][record.id] = record
            ordered = self._ordered[key]
            ordered[bisect.bisect_left(ordered, record.sort_key, key=_sort_key)] = record
            self._index_add(key, record)
            self.version += 1
            return record

    def delete(self, key: str, resource_id: str) -> Record | None:
        with self.lock:
            record = self._records[key].pop(resource_id, None)
            if record is None:
                return None
            ordered = self._ordered[key]
            del ordered[bisect.bisect_left(ordered, record.sort_key, key=_sort_key)]
            self._index_remove(key, record)
            if record.id.isdigit():
                self._retired_up_to[key] = max(self._retired_up_to.get(key, 0), int(record.id))
            self.version += 1
            return record

    def _index_add(self, key: str, record: Record) -> None:
        for (child_key, rel_name), index in self._reverse.items():
            if child_key == key:
                for target in record.rel_ids(rel_name):
                    bisect.insort(index.setdefault(target, []), record, key=_sort_key)

    def _index_remove(self, key: str, record: Record) -> None:
        for (child_key, rel_name), index in self._reverse.items():
            if child_key == key:
                for target in record.rel_ids(rel_name):
                    bucket = index.get(target, [])
                    position = bisect.bisect_left(bucket, record.sort_key, key=_sort_key)
                    if position < len(bucket) and bucket[position].id == record.id:
                        del bucket[position]


def _sort_key(record: Record) -> tuple[int, int | str]:
    return record.sort_key


def _parent_relationship(kind: Kind, parent_type: str) -> str:
    """The relationship a loader's `_parent` identifier fills: the one whose target has that type."""
    if kind.parent_rel is not None:
        return kind.parent_rel
    for name, rel in kind.relationships.items():
        target = KINDS.get(rel.target)
        if target is not None and target.type == parent_type and not rel.to_many:
            return name
    return parent_type.lower()


def person_display_name(attributes: Mapping[str, Any]) -> str:
    """PCO's derived `name`: first and last name (the nickname is not part of it)."""
    return " ".join(part for part in (attributes.get("first_name"), attributes.get("last_name")) if part)


def _is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # the exact check first: loads are large


def _parse_rel(value: Any, where: str) -> RelValue:
    """A relationship as given to the loader: `{"data": …}` or the bare data."""
    if _is_mapping(value) and "data" in value:
        value = value["data"]
    if value is None:
        return None
    if type(value) is list:
        return [_parse_ref(item, where) for item in value]
    if _is_mapping(value):
        return _parse_ref(value, where)
    raise LoadError(f"{where}: expected a resource identifier, a list of them, or null")


def _parse_ref(value: Any, where: str) -> Ref:
    if not _is_mapping(value) or "id" not in value or "type" not in value:
        raise LoadError(f"{where}: {value!r:.100} is not a resource identifier")
    return (str(value["type"]), str(value["id"]))
