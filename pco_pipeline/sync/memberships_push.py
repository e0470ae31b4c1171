"""The group memberships push: the church's group memberships → PCO Groups memberships.

In scope: memberships the church made (`source = 'local'`), and every linked membership, in
groups PCO has (a level-3 group with a `pco_id`, active, not removed from PCO), of people PCO has
(`pco_id`, active). Groups themselves are never created by this pipeline; of a linked group it
sends only a name the church changed since the two sides last agreed (`load_groups`' base):
`PATCH /groups/v2/groups/{id}` with the name, the one group attribute PCO's Groups API assigns
that the church database holds (a description cannot be assigned: `load_groups` lists a church
edit of it as needs action in PCO). PCO's answer moves the name's base.

- not linked yet (no `pco_id`) → created: `POST /groups/v2/groups/{group}/memberships` with the
  person and the role (local leader → `leader`, every other leader type → `member`) and the
  local joined_at;
- linked (made by the church or loaded from PCO), and the role PCO has (as last read by the
  inbound sync) differs from the local one → `PATCH /groups/v2/groups/{group}/memberships/{id}`
  with the role;
- linked and deleted in the church (`church_deletions`) while PCO still has it →
  `DELETE /groups/v2/groups/{group}/memberships/{id}` (PCO's Groups reference allows it;
  `push_engine.delete_recorded`: a 404 means already gone).
Before writing to a group, its memberships are listed (`GET …/memberships`, 100 per page), so a
person PCO already has in the group is linked (and its role corrected) instead of added twice —
which is also what makes a push interrupted at any point safe to run again. A membership PCO
removed (linked, but gone from PCO) is not created again: the church keeps its row.

Memberships waiting for their person to be pushed, and those in groups PCO does not have, are
counted in the plan's notes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.client import PCOClient, resource_body
from pco_pipeline.pco.errors import PCONotFound
from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync import push_ledger as ledger
from pco_pipeline.sync.base import advance_base
from pco_pipeline.sync.push import MISSING_IN_PCO, PlannedWrite, PushReport, PushSession, Skip, refused_earlier_sql
from pco_pipeline.sync.push_engine import Operation, PushKind, RecordedDelete, execute, run_push, send

PCO_ROLES = {"leader": "leader"}   # every other local leader type is a PCO member


def pco_role(leader_type: str | None) -> str:
    return PCO_ROLES.get(leader_type or "", "member")


@dataclass
class MembershipPush:
    membership_id: int
    group_id: int
    group_pco_id: str
    group_name: str
    person_id: int
    person_pco_id: str
    person_name: str
    role: str                        # the PCO role the church's leader type maps to
    joined_at: datetime | None
    pco_id: str | None               # None: created
    pco_role: str | None = None      # the role PCO has, as last read

    @property
    def label(self) -> str:
        return f"membership {self.membership_id} ({self.person_name} in {self.group_name})"

    def create_attributes(self) -> dict[str, Any]:
        attributes = {"person_id": self.person_pco_id, "role": self.role}
        if self.joined_at is not None:
            attributes["joined_at"] = self.joined_at.isoformat()
        return attributes

    def create(self) -> Operation:
        sent = self.create_attributes()
        return Operation("create", "Membership", "group_membership", str(self.membership_id), self.membership_id,
                         self.label, f"/groups/v2/groups/{self.group_pco_id}/memberships",
                         resource_body("Membership", sent), sent)

    def role_update(self, pco_id: str) -> Operation:
        sent = {"role": self.role}
        return Operation("update", "Membership", "group_membership", str(self.membership_id), self.membership_id,
                         self.label, f"/groups/v2/groups/{self.group_pco_id}/memberships/{pco_id}",
                         resource_body("Membership", sent, id=pco_id), sent)


_IN_SCOPE = """
FROM group_membership gm
JOIN church_group g ON g.id = gm.group_id
JOIN people p ON p.id = gm.person_id
WHERE gm.source = 'local' AND g.level = 3 AND g.pco_id IS NOT NULL AND g.pco_removed_at IS NULL AND g.is_active
"""
_CANDIDATES = f"""
SELECT gm.id, gm.group_id, g.pco_id AS group_pco_id, g.name AS group_name, gm.person_id, p.pco_id AS person_pco_id,
       btrim(p.first_name || ' ' || p.last_name) AS person_name, gm.leader_type, gm.joined_at, gm.pco_id,
       m.normalized->>'leader_type' AS landed_leader_type, m.removed_at AS landed_removed_at,
       {refused_earlier_sql('group_membership', 'gm.id', 'gm.updated_at')} AS refused_earlier
FROM group_membership gm
JOIN church_group g ON g.id = gm.group_id
JOIN people p ON p.id = gm.person_id
LEFT JOIN pco_landing m ON m.resource = 'groups/memberships' AND m.pco_id = gm.pco_id
WHERE (gm.source = 'local' OR gm.pco_id IS NOT NULL) AND g.level = 3 AND g.pco_id IS NOT NULL AND g.pco_removed_at IS NULL AND g.is_active
  AND p.pco_id IS NOT NULL AND p.is_active
ORDER BY g.pco_id, gm.id
"""


def plan_memberships(session: PushSession) -> dict[str, list[MembershipPush]]:
    """Memberships to create or correct, by PCO group id; skips and notes go on the session."""
    plan = session.report.plan
    with session.engine.connect() as conn:
        rows = conn.execute(sa.text(_CANDIDATES)).all()
        waiting = conn.execute(sa.text(f"SELECT count(*) {_IN_SCOPE} AND gm.pco_id IS NULL"
                                       " AND (p.pco_id IS NULL OR NOT p.is_active)")).scalar_one()
        outside = conn.execute(sa.text(
            "SELECT count(*) FROM group_membership gm JOIN church_group g ON g.id = gm.group_id"
            " WHERE gm.source = 'local' AND gm.pco_id IS NULL AND NOT (g.level = 3 AND g.pco_id IS NOT NULL"
            " AND g.pco_removed_at IS NULL AND g.is_active)")).scalar_one()
    plan.notes["memberships waiting for their person to be pushed"] += waiting
    plan.notes["memberships in groups PCO does not have (or archived)"] += outside
    by_group: dict[str, list[MembershipPush]] = {}
    for row in rows:
        item = MembershipPush(row.id, row.group_id, row.group_pco_id, row.group_name, row.person_id,
                              row.person_pco_id, row.person_name, pco_role(row.leader_type), row.joined_at, row.pco_id,
                              row.landed_leader_type)
        if item.pco_id is not None:
            if row.landed_removed_at is not None:
                plan.notes["memberships PCO removed (not re-created)"] += 1
                continue
            if item.pco_role is None or item.pco_role == item.role:
                continue
        if row.refused_earlier:
            session.skip("Membership", Skip.refused_earlier("group_membership", item.membership_id,
                                                            item.membership_id))
            continue
        if item.pco_id is None:
            plan.add(PlannedWrite("create", "Membership", item.label, tuple(
                [("group", f"{item.group_name} (PCO {item.group_pco_id})"),
                 ("person", f"{item.person_name} (PCO {item.person_pco_id})"), ("role", item.role)]
                + ([("joined_at", item.joined_at)] if item.joined_at else []))))
        else:
            plan.add(PlannedWrite("update", "Membership", f"{item.label}, PCO {item.pco_id}",
                                  (("role", f"{item.pco_role} → {item.role}"),)))
        by_group.setdefault(item.group_pco_id, []).append(item)
    return by_group


# Linked memberships the church deleted that PCO still has (as landed).
_DELETED = """
SELECT d.local_id, d.pco_id, coalesce(d.parent_pco_id, m.parent_pco_id) AS group_pco_id
FROM church_deletions d
JOIN pco_landing m ON m.resource = 'groups/memberships' AND m.pco_id = d.pco_id AND m.removed_at IS NULL
WHERE d.local_table = 'group_membership' AND d.pushed_at IS NULL
ORDER BY d.deleted_at, d.pco_id
"""


def plan_deletes(session: PushSession) -> list[RecordedDelete]:
    with session.engine.connect() as conn:
        rows = conn.execute(sa.text(_DELETED)).all()
    deletes = []
    for row in rows:
        label = f"membership {row.local_id} (deleted in the church)"
        deletes.append(RecordedDelete("Membership", "group_membership", str(row.local_id), row.local_id, label,
                                      row.pco_id, f"/groups/v2/groups/{row.group_pco_id}/memberships/{row.pco_id}",
                                      store=_mark_deleted(row.pco_id)))
        session.report.plan.add(PlannedWrite("delete", "Membership", f"{label}, PCO {row.pco_id}",
                                             (("group", row.group_pco_id),)))
    return deletes


def _mark_deleted(pco_id: str) -> Callable[[sa.Connection, str], None]:
    def mark(conn: sa.Connection, outcome: str) -> None:
        conn.execute(sa.text("UPDATE church_deletions SET pushed_at = clock_timestamp(), pushed_as = :outcome"
                             " WHERE local_table = 'group_membership' AND pco_id = :pco_id"),
                     {"outcome": outcome, "pco_id": pco_id})
    return mark


@dataclass(frozen=True)
class GroupRename:
    """A linked group the church renamed: PCO is sent the church's name."""
    group_id: int
    pco_id: str
    name: str
    pco_name: str | None     # as last read

    @property
    def label(self) -> str:
        return f"group {self.group_id} ({self.name})"

    def update(self) -> Operation:
        sent = {"name": self.name}
        return Operation("update", "Group", "church_group", str(self.group_id), self.group_id, self.label,
                         f"/groups/v2/groups/{self.pco_id}", resource_body("Group", sent, id=self.pco_id), sent,
                         pco_id=self.pco_id)


# Linked groups the church renamed since the base whose name PCO (as last read) does not hold.
_RENAMED = f"""
SELECT g.id, g.pco_id, g.name, s.name AS pco_name,
       {refused_earlier_sql('church_group', 'g.id', 'g.updated_at')} AS refused_earlier
FROM church_group g
JOIN sync_base b ON b.entity = 'church_groups' AND b.pco_id = g.pco_id AND b.agreed_values ? 'name'
JOIN pco_state_groups s ON s.pco_id = g.pco_id
WHERE g.level = 3 AND g.pco_removed_at IS NULL
  AND g.name IS DISTINCT FROM b.agreed_values ->> 'name' AND g.name IS DISTINCT FROM s.name
ORDER BY g.id
"""


def plan_renames(session: PushSession) -> list[GroupRename]:
    """Linked groups whose name the church changed since the base and PCO's differs (not those
    PCO refused before, unchanged since)."""
    with session.engine.connect() as conn:
        rows = conn.execute(sa.text(_RENAMED)).all()
    renames = []
    for row in rows:
        if row.refused_earlier:
            session.skip("Group", Skip.refused_earlier("church_group", row.id, row.id))
            continue
        renames.append(GroupRename(row.id, row.pco_id, row.name, row.pco_name))
        session.report.plan.add(PlannedWrite("update", "Group", f"group {row.id}, PCO {row.pco_id}",
                                             (("name", f"{row.pco_name} → {row.name}"),)))
    return renames


def plan_batches(session: PushSession) -> Iterator[Sequence[GroupRename | tuple[str, list[MembershipPush]] | RecordedDelete]]:
    """The plan: the groups the church renamed; one PCO group per batch: (group id, its memberships
    to write); then the deletes."""
    renames = plan_renames(session)
    if renames:
        yield renames
    for group in plan_memberships(session).items():
        yield (group,)
    deletes = plan_deletes(session)
    if deletes:
        yield deletes


# --- execution ----------------------------------------------------------------------------------

class _MembershipPusher:
    def __init__(self, session: PushSession, client: PCOClient) -> None:
        self.session, self.client = session, client

    def push(self, unit: GroupRename | tuple[str, list[MembershipPush]] | RecordedDelete) -> None:
        if isinstance(unit, RecordedDelete):
            execute(self.session, self.client, unit)
        elif isinstance(unit, GroupRename):
            self.push_rename(unit)
        else:
            self.push_group(unit)

    def push_rename(self, item: GroupRename) -> None:
        session = self.session
        op = item.update()
        updated = send(session, self.client, op, lost="PCO's answer to the rename was lost; the next push "
                                                      "compares the name again")
        if updated is None:
            return
        with session.engine.begin() as conn:
            ledger.record_write(conn, run_id=session.run_id, resource_type=op.resource, action=op.action,
                                local_table=op.table, local_key=op.key, sent=op.sent, resource=updated)
            if updated.get("name") == item.name:
                advance_base(conn, "church_groups", item.pco_id, item.group_id, {"name": item.name})
            session.resolve(conn, op.table, op.key)
        session.counts.add(op.resource, "updated")

    def push_group(self, group: tuple[str, list[MembershipPush]]) -> None:
        session = self.session
        group_pco_id, items = group
        try:
            current = {m.relationship_ids("person")[0]: m
                       for m in self.client.iter_records(f"/groups/v2/groups/{group_pco_id}/memberships")
                       if m.relationship_ids("person")}
        except PCONotFound:
            for item in items:
                session.failed("Membership", "group_membership", str(item.membership_id), item.membership_id,
                               MISSING_IN_PCO, f"{item.label}: PCO group {group_pco_id} no longer exists; the inbound "
                               "sync will mark it removed")
            return
        for item in items:
            existing = current.get(item.person_pco_id)
            if item.pco_id is not None and (existing is None or existing.id != item.pco_id):
                session.report.plan.notes["memberships PCO removed (not re-created)"] += 1
                continue
            if existing is None:
                op = item.create()
                created = send(session, self.client, op, lost="PCO's answer to the create was lost; the next push "
                                                              "lists the group before adding it again")
                if created is not None:
                    self._store(item, op, created, "confirmed")
                continue
            if item.pco_id is None:
                self._store(item, item.create(), existing, "adopted")
            if existing.get("role") != item.role:
                op = item.role_update(existing.id)
                updated = send(session, self.client, op, lost="PCO's answer to the role change was lost; the next "
                                                              "push compares the role again")
                if updated is not None:
                    self._store(item, op, updated, "confirmed")

    def _store(self, item: MembershipPush, op: Operation, resource: Resource, state: str) -> None:
        session = self.session
        with session.engine.begin() as conn:
            conn.execute(sa.text("UPDATE group_membership SET pco_id = :pco_id, updated_at = now()"
                                 " WHERE id = :id AND pco_id IS DISTINCT FROM :pco_id"),
                         {"pco_id": resource.id, "id": item.membership_id})
            ledger.record_write(conn, run_id=session.run_id, resource_type=op.resource, action=op.action,
                                local_table=op.table, local_key=op.key, sent=op.sent, resource=resource,
                                parent_pco_id=item.group_pco_id, state=state)
            session.resolve(conn, op.table, op.key)
        item.pco_id = resource.id
        outcome = "adopted" if state == "adopted" else "created" if op.action == "create" else "updated"
        session.counts.add(op.resource, outcome)


GROUP_MEMBERSHIPS = PushKind("group_memberships", plan_batches,
                             lambda session, client: _MembershipPusher(session, client).push)


def run_group_memberships_push(engine: sa.Engine, client: PCOClient | None, *, run_id: str | None = None,
                           dry_run: bool = False, progress: Callable[[PushReport], None] | None = None) -> PushReport:
    """Push the church's memberships in PCO groups (see the module docstring)."""
    return run_push(GROUP_MEMBERSHIPS, engine, client, run_id=run_id, dry_run=dry_run, progress=progress)
