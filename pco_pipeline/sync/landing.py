"""Landing: PCO records → the `pco_landing` table, one page per transaction, with its cursor.

This module is the only writer of `pco_landing` (and of the listing bookkeeping, `pco_listing`):
upserting records (`land_records`, `land_page`), removing a parent's children (`remove_children`),
removing what a complete listing did not see (`finish_listing`), and tombstones (`tombstone`: a
record PCO no longer has, landed as removed even when it was never landed). Everyone else —
the extract, the webhook applier — lands and removes through these functions, and only reads
the table.

The extract streams pages and hands each one to `land_page`, which in ONE transaction
- upserts the records (raw attributes and relationships, typed timestamps, normalized values),
  counting new, changed and unchanged ones (re-reading an unchanged record changes nothing but
  its `last_seen_at`);
- lands the included records the spec owns (`children`, e.g. a person's emails: those the parent
  no longer names are marked removed) or side-loads (e.g. a check-in's event);
- advances the resource's `sync_cursor` past the page (only when asked: ordered reads only).
A crash therefore loses nothing and skips nothing: either the page and its cursor are
committed, or neither is, and the next run reads the page again.

Incremental reads (`first_page_params`) ask for `where[<cursor>][gte] = cursor − overlap`
ordered by the cursor attribute: timestamps have one-second resolution and PCO commits are not
instantaneous, so the overlap re-reads the last moments; those re-read records land as
unchanged. `ids_at_cursor` records which ids were landed at exactly the cursor second, for keyset
paging (`keyset_params`) that must step over ties without re-reading them forever.

Resources PCO cannot both order and filter by their cursor timestamp (`ResourceSpec.cursor`
is None: PCO's reference, `pco_reference`), and full refreshes, are complete listings:
`start_listing` before the first page, `finish_listing` after the last one marks every row not
seen since the start as removed. A listing that fails midway is never finished and removes
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync import local_links
from pco_pipeline.sync.catalog import ResourceSpec, spec_for
from pco_pipeline.sync.normalize import DEFAULT_PHONE_REGION, InvalidValue, parse_timestamp

DEFAULT_OVERLAP = timedelta(seconds=2)
DEFAULT_PER_PAGE = 100
# A complete listing that would remove more than this share of a resource's rows is refused:
# an empty or truncated listing (permissions, an API incident) must not deactivate a church.
DEFAULT_MAX_REMOVED_FRACTION = 0.5


class ListingGuardError(RuntimeError):
    """A complete listing would remove an implausible share of the landed rows."""


@dataclass(frozen=True)
class Cursor:
    """The incremental high-water mark of one resource."""

    resource: str
    value: datetime | None = None
    ids_at_value: frozenset[str] = frozenset()

    def describe(self) -> str:
        """One line for run metadata: the value and how many ids share it."""
        if self.value is None:
            return "none (next read is a complete one)"
        return f"{self.value.isoformat()} ({len(self.ids_at_value)} id(s) at that second)"

    def advanced_by(self, stamped: Iterable[tuple[str, datetime]]) -> "Cursor":
        """The cursor after landing records with these (id, cursor timestamp) pairs; never moves back."""
        value, ids = self.value, set(self.ids_at_value)
        for pco_id, stamp in stamped:
            if value is None or stamp > value:
                value, ids = stamp, {pco_id}
            elif stamp == value:
                ids.add(pco_id)
        return Cursor(self.resource, value, frozenset(ids))


@dataclass
class LandedCounts:
    """What one landing step did to one resource."""

    received: int = 0
    inserted: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0

    def __iadd__(self, other: "LandedCounts") -> "LandedCounts":
        for name in ("received", "inserted", "changed", "unchanged", "removed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


@dataclass
class LandingResult:
    """Counts per resource (the page's own and its children/side-loads) and the cursor movement."""

    counts: dict[str, LandedCounts] = field(default_factory=dict)
    cursor_before: Cursor | None = None
    cursor_after: Cursor | None = None

    def add(self, resource: str, counts: LandedCounts) -> None:
        self.counts.setdefault(resource, LandedCounts())
        self.counts[resource] += counts

    def merge(self, other: "LandingResult") -> None:
        """Accumulate another page's result (the extract sums its pages with this)."""
        for resource, counts in other.counts.items():
            self.add(resource, counts)
        if self.cursor_before is None:
            self.cursor_before = other.cursor_before
        if other.cursor_after is not None:
            self.cursor_after = other.cursor_after


@dataclass(frozen=True)
class Listing:
    """A complete listing in progress; pass it to `finish_listing` after the last page."""

    id: int
    resource: str
    started_at: datetime


@dataclass(frozen=True)
class ListingOutcome:
    seen: int
    removed: int


# --- cursor ---------------------------------------------------------------------------------

def read_cursor(conn: sa.Connection | sa.Engine, resource: str) -> Cursor:
    """The stored cursor of `resource` (an empty one when it has never been read)."""
    query = sa.text("SELECT cursor_value, ids_at_cursor FROM sync_cursor WHERE resource = :r")
    if isinstance(conn, sa.Engine):
        with conn.connect() as c:
            row = c.execute(query, {"r": resource}).first()
    else:
        row = conn.execute(query, {"r": resource}).first()
    if row is None:
        return Cursor(resource)
    return Cursor(resource, row.cursor_value, frozenset(row.ids_at_cursor or ()))


def _iso_z(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def first_page_params(spec: ResourceSpec, cursor: Cursor | None, *, full_refresh: bool = False,
                      overlap: timedelta = DEFAULT_OVERLAP, per_page: int = DEFAULT_PER_PAGE) -> dict[str, str]:
    """Query parameters for the first request of a read of `spec`.

    Incremental resources are ordered by their cursor timestamp; with a stored cursor (and no
    full refresh) only records at or after `cursor − overlap` are asked for. Resources PCO cannot
    keyset-page (`spec.cursor` None) get a plain complete listing in PCO's default order.
    """
    params = {"per_page": str(per_page), **spec.params}
    if spec.include:
        params["include"] = ",".join(spec.include)
    if spec.cursor:
        params["order"] = spec.cursor
        if cursor is not None and cursor.value is not None and not full_refresh:
            params[f"where[{spec.cursor}][gte]"] = _iso_z(cursor.value - overlap)
    return params


def keyset_params(spec: ResourceSpec, cursor: Cursor, *, per_page: int = DEFAULT_PER_PAGE) -> dict[str, str]:
    """Parameters for the next page of a keyset read: from the cursor second, past its known ids.

    Offset paging over a set that changes while it is read can skip a record (another moves
    behind it); re-anchoring every request at the cursor cannot. PCO orders ties by id, and the
    ids at the cursor second were all landed, so `offset = len(ids_at_cursor)` steps over them.
    """
    if spec.cursor is None or cursor.value is None:
        raise ValueError(f"{spec.name}: keyset paging needs a timestamp PCO can order and filter by, "
                         "and a cursor value")
    params = first_page_params(spec, None, per_page=per_page)
    params[f"where[{spec.cursor}][gte]"] = _iso_z(cursor.value)
    params["offset"] = str(len(cursor.ids_at_value))
    return params


def _write_cursor(conn: sa.Connection, cursor: Cursor) -> None:
    conn.execute(sa.text(
        "INSERT INTO sync_cursor (resource, cursor_value, ids_at_cursor, updated_at)"
        " VALUES (:r, :v, :ids, now())"
        " ON CONFLICT (resource) DO UPDATE SET cursor_value = EXCLUDED.cursor_value,"
        " ids_at_cursor = EXCLUDED.ids_at_cursor, updated_at = now()"),
        {"r": cursor.resource, "v": cursor.value, "ids": sorted(cursor.ids_at_value, key=_id_order)})


def _id_order(pco_id: str) -> tuple[int, str]:
    return (len(pco_id), pco_id)  # numeric order for PCO's digit ids


# --- rows -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Row:
    pco_id: str
    parent_pco_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    attributes: dict[str, Any]
    relationships: dict[str, Any]
    normalized: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"pco_id": self.pco_id, "parent_pco_id": self.parent_pco_id,
                "created_at": self.created_at.isoformat() if self.created_at else None,
                "updated_at": self.updated_at.isoformat() if self.updated_at else None,
                "attributes": self.attributes, "relationships": self.relationships, "normalized": self.normalized}


def _timestamp(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value)
    except InvalidValue:
        return None  # kept raw in attributes; the normalizer reports it where it matters


def _row(spec: ResourceSpec, resource: Resource, parent_pco_id: str | None, region: str) -> _Row:
    if parent_pco_id is None and spec.parent_relationship:
        ids = resource.relationship_ids(spec.parent_relationship)
        parent_pco_id = ids[0] if ids else None
    normalized = spec.normalizer(resource.attributes, region) if spec.normalizer else {}
    return _Row(
        pco_id=resource.id,
        parent_pco_id=parent_pco_id,
        created_at=_timestamp(resource.attributes.get("created_at")),
        updated_at=_timestamp(resource.attributes.get("updated_at")),
        attributes=resource.attributes,
        relationships=resource.relationship_id_map(),
        normalized=normalized,
    )


# Newer-or-same content replaces what is stored; an older version (a page read before a webhook
# landed a newer one) only proves the record still exists.
_TAKE_NEW = ("(EXCLUDED.pco_updated_at IS NULL OR l.pco_updated_at IS NULL"
             " OR EXCLUDED.pco_updated_at >= l.pco_updated_at)")
_CONTENT = ("parent_pco_id", "pco_created_at", "pco_updated_at", "attributes", "relationships", "normalized")
_DIFFERS = (f"({', '.join('l.' + c for c in _CONTENT)}) IS DISTINCT FROM "
            f"({', '.join('EXCLUDED.' + c for c in _CONTENT)})")

_UPSERT = sa.text(f"""
INSERT INTO pco_landing AS l (resource, pco_id, parent_pco_id, pco_created_at, pco_updated_at,
                              attributes, relationships, normalized)
SELECT :resource, u.pco_id, u.parent_pco_id, u.created_at, u.updated_at,
       COALESCE(u.attributes, '{{}}'), COALESCE(u.relationships, '{{}}'), COALESCE(u.normalized, '{{}}')
FROM jsonb_to_recordset(CAST(:rows AS jsonb))
     AS u(pco_id text, parent_pco_id text, created_at timestamptz, updated_at timestamptz,
          attributes jsonb, relationships jsonb, normalized jsonb)
ON CONFLICT (resource, pco_id) DO UPDATE SET
    {', '.join(f"{c} = CASE WHEN {_TAKE_NEW} THEN EXCLUDED.{c} ELSE l.{c} END" for c in _CONTENT)},
    changed_at = CASE WHEN l.removed_at IS NOT NULL OR ({_TAKE_NEW} AND {_DIFFERS})
                      THEN now() ELSE l.changed_at END,
    removed_at = NULL,
    last_seen_at = now()
RETURNING (xmax = 0) AS inserted, (changed_at = now()) AS changed
""")


def _upsert_rows(conn: sa.Connection, resource: str, rows: Sequence[_Row]) -> LandedCounts:
    counts = LandedCounts(received=len(rows))
    if not rows:
        return counts
    # One JSON document per batch: PostgreSQL unpacks it far faster than the driver quotes arrays.
    document = json.dumps([r.as_json() for r in rows], default=str)
    if "\\u0000" in document:  # jsonb cannot hold NUL characters; PCO text occasionally has them
        document = json.dumps(_without_nul([r.as_json() for r in rows]), default=str)
    result = conn.execute(_UPSERT, {"resource": resource, "rows": document})
    for inserted, changed in result:
        if inserted:
            counts.inserted += 1
        elif changed:
            counts.changed += 1
        else:
            counts.unchanged += 1
    return counts


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _dedupe(resources: Iterable[Resource]) -> list[Resource]:
    """One record per id (a page can repeat a record when PCO's set shifts under offsets)."""
    latest: dict[str, Resource] = {}
    for resource in resources:
        latest[resource.id] = resource
    return list(latest.values())


# --- removals: what every removal of a landed row sets ------------------------------------------

# A removed row keeps its content (the loads read what it was) and counts as changed, so the
# loads that read rows changed since their last run see the removal.
_MARK_REMOVED = "removed_at = now(), changed_at = now()"

_TOMBSTONE = sa.text(f"""
INSERT INTO pco_landing AS l (resource, pco_id, parent_pco_id, attributes, removed_at, changed_at)
SELECT :r, t.pco_id, :parent, '{{}}', now(), now() FROM unnest(CAST(:ids AS text[])) AS t(pco_id)
ON CONFLICT (resource, pco_id) DO UPDATE SET {_MARK_REMOVED},
    parent_pco_id = COALESCE(l.parent_pco_id, EXCLUDED.parent_pco_id)
WHERE l.removed_at IS NULL AND (CAST(:unseen_since AS timestamptz) IS NULL OR l.last_seen_at < :unseen_since)
RETURNING pco_id
""")


def tombstone(conn: sa.Connection, resource: str, pco_ids: Sequence[str], *, parent_pco_id: str | None = None,
              unseen_since: datetime | None = None) -> list[str]:
    """Mark the records `pco_ids` of `resource` removed, inside the caller's transaction.

    A record never landed gets a removed placeholder with no content (a tombstone), so the loads
    also retire a church row linked to it by pco_id. `parent_pco_id` is recorded when the row has
    none. A record already removed is left as it is; with `unseen_since`, so is one landed at or
    after that moment (a complete listing's start: a webhook may land it while the listing ends).
    Returns the ids this call removed.
    """
    if not pco_ids:
        return []
    return list(conn.execute(_TOMBSTONE, {"r": resource, "ids": list(dict.fromkeys(pco_ids)),
                                          "parent": parent_pco_id, "unseen_since": unseen_since}).scalars())


def remove_children(conn: sa.Connection, child_resource: str, parents: Sequence[str], *,
                    keep: Sequence[str] = ()) -> int:
    """Mark removed the active `child_resource` rows owned by `parents`, except the ids in `keep`
    (the children the parents still name); returns how many were removed."""
    if not parents:
        return 0
    result = conn.execute(sa.text(
        f"UPDATE pco_landing SET {_MARK_REMOVED}"
        " WHERE resource = :r AND parent_pco_id = ANY(:parents) AND removed_at IS NULL"
        " AND NOT (pco_id = ANY(:keep))"),
        {"r": child_resource, "parents": list(parents), "keep": list(keep)})
    return result.rowcount


def _remove_unseen(conn: sa.Connection, resource: str, since: datetime) -> list[str]:
    """Mark removed the active rows of `resource` not seen since `since`; returns their ids."""
    return list(conn.execute(sa.text(
        f"UPDATE pco_landing SET {_MARK_REMOVED}"
        " WHERE resource = :r AND removed_at IS NULL AND last_seen_at < :start RETURNING pco_id"),
        {"r": resource, "start": since}).scalars())


def _resolve_landing_quarantine(conn: sa.Connection, resource: str, ids: Sequence[str]) -> None:
    """Records quarantined as unreadable that have now landed are resolved."""
    conn.execute(sa.text(
        "UPDATE sync_quarantine SET resolved_at = now()"
        " WHERE entity = :r AND resolved_at IS NULL AND record_key = ANY(:ids)"),
        {"r": resource, "ids": list(ids)})


def land_records(conn: sa.Connection, spec: ResourceSpec, records: Iterable[Resource], *,
                 parent_pco_id: str | None = None, advance_cursor: bool = False,
                 phone_region: str = DEFAULT_PHONE_REGION) -> LandingResult:
    """Land one page inside the caller's transaction (see `land_page`)."""
    records = [r for r in _dedupe(records)]
    wrong = [r for r in records if r.type != spec.pco_type]
    if wrong:
        raise ValueError(f"{spec.name} lands {spec.pco_type} records, got {wrong[0].type} {wrong[0].id}")
    result = LandingResult()
    result.add(spec.name, _upsert_rows(conn, spec.name,
                                       [_row(spec, r, parent_pco_id, phone_region) for r in records]))

    for relationship, child_name in spec.children.items():
        child_spec = spec_for(child_name)
        parents = [r for r in records if r.sent(relationship)]
        if not parents:
            continue  # not requested with this page: nothing is known about these children
        children: dict[str, _Row] = {}
        named: list[str] = []
        for parent in parents:
            named.extend(parent.relationship_ids(relationship))
            for child in parent.related_list(relationship):
                children[child.id] = _row(child_spec, child, parent.id, phone_region)
        counts = _upsert_rows(conn, child_name, list(children.values()))
        # Named but not (yet) included children are kept as they are: PCO's `included` can lag.
        counts.removed = remove_children(conn, child_name, [p.id for p in parents], keep=named)
        result.add(child_name, counts)

    for relationship, target_name in spec.sideloads.items():
        target_spec = spec_for(target_name)
        included = _dedupe(item for r in records for item in r.related_list(relationship))
        if included:
            result.add(target_name, _upsert_rows(
                conn, target_name, [_row(target_spec, item, None, phone_region) for item in included]))

    if records:
        _resolve_landing_quarantine(conn, spec.name, [r.id for r in records])

    if advance_cursor:
        if spec.cursor is None:
            raise ValueError(f"{spec.name} cannot be keyset-paged on a timestamp in PCO; "
                             "read it as a complete listing")
        # Two runs landing the same resource at once must not both move the cursor from one read.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"cursor:{spec.name}"})
        before = read_cursor(conn, spec.name)
        stamped = [(r.id, stamp) for r in records
                   if (stamp := _timestamp(r.attributes.get(spec.cursor))) is not None]
        after = before.advanced_by(stamped)
        if after != before:
            _write_cursor(conn, after)
        result.cursor_before, result.cursor_after = before, after
    return result


def land_page(engine: sa.Engine, spec: ResourceSpec, records: Iterable[Resource], *,
              parent_pco_id: str | None = None, advance_cursor: bool = False,
              phone_region: str = DEFAULT_PHONE_REGION) -> LandingResult:
    """Land one page of `spec` records, their children and side-loads, and the cursor, atomically.

    `parent_pco_id` is the owning record of a nested listing (the group of
    `/groups/{id}/memberships`). `advance_cursor` is for reads ordered by the cursor attribute
    (incremental reads and full refreshes of incremental resources); single-record re-reads
    (webhooks) must leave it False, or the cursor would jump past records not yet read.
    `phone_region` is the default region for phone numbers without a country code.
    """
    with engine.begin() as conn:
        return land_records(conn, spec, records, parent_pco_id=parent_pco_id,
                            advance_cursor=advance_cursor, phone_region=phone_region)


# --- complete listings ----------------------------------------------------------------------

def start_listing(engine: sa.Engine, resource: str) -> Listing:
    """Begin a complete listing of `resource` (call before requesting its first page)."""
    spec_for(resource)
    with engine.begin() as conn:
        row = conn.execute(sa.text(
            "INSERT INTO pco_listing (resource, started_at) VALUES (:r, clock_timestamp())"
            " RETURNING id, started_at"), {"r": resource}).one()
    return Listing(id=row.id, resource=resource, started_at=row.started_at)


def finish_listing(engine: sa.Engine, listing: Listing, *,
                   max_removed_fraction: float = DEFAULT_MAX_REMOVED_FRACTION) -> ListingOutcome:
    """After the last page: mark rows not seen since the listing began as removed.

    Ids church rows link to that were never landed (`local_links.unlanded_links`) are landed as
    removed (no content), so the loads deactivate those rows like any other PCO no longer has.
    Owned children of removed parents are removed with them. Raises ListingGuardError (and
    removes nothing) when more than `max_removed_fraction` of the active rows and unlanded links
    — and more than ten — would go: pass 1.0 to accept a genuinely emptied resource.
    """
    spec = spec_for(listing.resource)
    with engine.begin() as conn:
        seen, stale, active = conn.execute(sa.text(
            "SELECT count(*) FILTER (WHERE last_seen_at >= :start),"
            "       count(*) FILTER (WHERE last_seen_at < :start AND removed_at IS NULL),"
            "       count(*) FILTER (WHERE removed_at IS NULL)"
            " FROM pco_landing WHERE resource = :r"),
            {"r": listing.resource, "start": listing.started_at}).one()
        unlanded = local_links.unlanded_links(conn, listing.resource, listing.started_at)
        going = stale + len(unlanded)
        if going > 10 and going > max_removed_fraction * (active + len(unlanded)):
            never = f" and deactivate {len(unlanded)} church link(s) to records it never landed" if unlanded else ""
            raise ListingGuardError(
                f"the complete listing of {listing.resource} saw {seen} record(s) and would remove "
                f"{stale} of {active}{never}; refusing. If PCO really lost them, finish the listing with "
                f"max_removed_fraction=1.0.")
        removed = _remove_unseen(conn, listing.resource, listing.started_at)
        removed += tombstone(conn, listing.resource, unlanded, unseen_since=listing.started_at)
        for child_name in spec.children.values():
            remove_children(conn, child_name, removed)
        conn.execute(sa.text(
            "UPDATE pco_listing SET finished_at = clock_timestamp(), seen_count = :seen,"
            " removed_count = :removed WHERE id = :id"),
            {"seen": seen, "removed": len(removed), "id": listing.id})
    return ListingOutcome(seen=seen, removed=len(removed))

