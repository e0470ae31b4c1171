"""The families push: church families PCO does not have → PCO households; new members → household members.

1. A local family without a `pco_id` whose members include people already in PCO becomes a
   Household: one `POST /people/v2/households` naming those people and the primary contact
   (the family's primary contact if pushed, else its head, else its first adult, else its first
   member). The household id is stored on the family as soon as PCO confirms it. The create is
   recorded as a ledger intent first; after a lost answer the primary contact's households are
   read (`GET /people/v2/people/{id}/households`) and one with the family's name created since
   the intent is adopted instead of created again.
   Not pushed: a family none of whose members is in PCO yet (it waits for the people push), and a
   family one of whose members already belongs to a PCO household (PCO or the church may have it
   already, e.g. as another local family the inbound sync made from that household: creating it
   would duplicate it) — the latter is quarantined as a possible duplicate, naming the households.
2. Members of a linked family (or one just created) who are in PCO but not in its household —
   people pushed after the household was made, e.g. a newborn, or a person the church put in the
   family — are added with `POST /people/v2/households/{id}/household_memberships`, `pending:
   false` (so PCO sends them no email). A member the two sides had agreed on (a base for the pair
   "<household>:<person>", the `family_members` entity of `two_way_entities`) whom PCO's household
   no longer lists was taken out in PCO: the load takes that, the push does not add them back. The
   household's current members are read first (one GET per family), so a member is never added
   twice; once PCO confirms, the pair's base records the membership.
3. A linked family the church renamed, or whose primary contact (a member PCO has) the church
   changed, by the three-way rule (`church_changes`: the church changed it since the base and PCO
   did not, or the church's side won a conflict or was chosen by staff) →
   `PATCH /people/v2/households/{id}` with the name and/or `primary_contact_id`
   (`push_engine.update_recorded`); PCO's answer moves the bases.
4. A member the church took out of a linked family (`church_deletions`, recorded by a trigger) whom
   PCO's household still lists, unless PCO changed that member since the two sides agreed (a
   conflict the church did not win) → the household's memberships are read and that person's is
   deleted (`DELETE /people/v2/households/{id}/household_memberships/{membership}`); a membership
   PCO no longer has is already gone. The pair's base goes with it.
5. A linked family whose address the church changed (the three-way rule's answer) → each of its
   linked members' PCO addresses is PATCHed with the changed fields (`family_address_push`).
A family deleted locally is not deleted in PCO: it is listed as needing action in PCO.

PCO's API reference (People v2): a household is created with its `people` and `primary_contact`
relationships; "to add a person to an existing household, use the HouseholdMemberships endpoint"
(`POST /people/v2/households/{id}/household_memberships` naming the `person`), and a membership is
deleted at its own URL; `primary_contact_id` is a writable household attribute. (Summarized from
the reference's Household and HouseholdMembership pages, as mirrored at
https://pub.dev/documentation/planningcenter_api/latest/planningcenter_api/PcoPeopleHousehold-class.html
and .../PcoPeopleHouseholdMembership-class.html; `pco_sandbox/writes.py` follows them.)

Needs the inbound sync's view of PCO's households (`push_engine.HOUSEHOLDS_LOADED`), because that
is how a family PCO already has is told apart from a new one. The create's ledger steps (intent,
look-up after a lost answer, adoption) are `push_engine.create_recorded`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.client import PCOClient, resource_body
from pco_pipeline.pco.errors import PCONotFound
from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync import conflicts
from pco_pipeline.sync import push_ledger as ledger
from pco_pipeline.sync.base import advance_base
from pco_pipeline.sync.church_changes import ChurchChange, church_changes, classify_changes, confirm_sent
from pco_pipeline.sync.merge import DELETED
from pco_pipeline.sync.normalize import clean_text
from pco_pipeline.sync.policies import load_policies
from pco_pipeline.sync.push import (MISSING_IN_PCO, POSSIBLE_DUPLICATE, FieldGate, PlannedWrite, PushReport,
                                    PushSession, Skip, refused_earlier_sql)
from pco_pipeline.sync.family_address_push import plan_address_changes
from pco_pipeline.sync.push_engine import (HOUSEHOLDS_LOADED, Operation, PushKind, RecordedCreate, RecordedDelete,
                                           RecordedUpdate, create_recorded, delete_recorded, execute, run_push, send)
from pco_pipeline.sync.push_validate import household_problems, printable
from pco_pipeline.sync.quarantine import INVALID_DATA
from pco_pipeline.sync.two_way_entities import ENTITIES


@dataclass
class Member:
    person_id: int
    pco_id: str
    name: str


@dataclass
class FamilyPush(RecordedCreate):
    family_id: int
    name: str
    pco_id: str | None                  # None: the household is created
    members: list[Member]               # members in PCO: all of them (create) or the missing ones (add)
    primary_contact: Member | None = None
    intent: ledger.Intent | None = None
    updated_at: datetime | None = None

    pco_noun = "PCO household"
    linked_meanwhile_remedy = "remove one of them in PCO"

    @property
    def label(self) -> str:
        return f"family {self.family_id} ({printable(self.name)})"

    def sent(self) -> dict[str, Any]:
        """What the ledger keeps of the create: the name and the people it named."""
        return {"name": self.name, "people": [m.pco_id for m in self.members],
                "primary_contact": self.primary_contact.pco_id if self.primary_contact else None}

    def operation(self) -> Operation:
        body = resource_body("Household", {"name": self.name},
                             relationships={"people": [("Person", m.pco_id) for m in self.members],
                                            "primary_contact": ("Person", self.sent()["primary_contact"])})
        return Operation("create", "Household", "families", str(self.family_id), self.family_id, self.label,
                         "/people/v2/households", body, self.sent())

    def candidates(self, client: PCOClient) -> Iterator[Resource]:
        """A lost create's household is one of the primary contact's."""
        return client.iter_records(f"/people/v2/people/{self.sent()['primary_contact']}/households")

    def is_ours(self, record: Resource, sent: Mapping[str, Any]) -> bool:
        return (clean_text(record.get("name")) or "").casefold() == str(sent.get("name") or "").casefold()

    def store(self, conn: sa.Connection, resource: Resource) -> bool:
        return bool(conn.execute(sa.text(
            "UPDATE families SET pco_id = :pco_id, pco_updated_at = CAST(:updated AS timestamptz),"
            " updated_at = now() WHERE id = :id AND pco_id IS NULL"),
            {"pco_id": resource.id, "updated": resource.get("updated_at"), "id": self.family_id}).rowcount)


_MEMBERS_IN_PCO = """
SELECT f.id AS family_id, btrim(f.name) AS name, f.pco_id AS family_pco_id, f.updated_at,
       p.id AS person_id, p.pco_id, btrim(p.first_name || ' ' || p.last_name) AS person_name,
       fm.is_primary_contact, fm.role, p.child,
       EXISTS (SELECT 1 FROM sync_base b WHERE b.entity = 'family_members'
               AND b.pco_id = f.pco_id || ':' || p.pco_id) AS agreed
FROM families f
JOIN family_members fm ON fm.family_id = f.id
JOIN people p ON p.id = fm.person_id AND p.pco_id IS NOT NULL AND p.is_active
WHERE f.pco_removed_at IS NULL
"""
# Households (landed, or created by a push) each PCO person belongs to.
_HOUSEHOLDS_OF = """
SELECT member.pco_id AS person_pco_id, h.pco_id AS household
FROM pco_landing h CROSS JOIN LATERAL jsonb_array_elements_text(
    CASE jsonb_typeof(h.relationships->'people') WHEN 'array' THEN h.relationships->'people' ELSE '[]'::jsonb END
) AS member(pco_id)
WHERE h.resource = 'people/households' AND h.removed_at IS NULL
UNION
SELECT member.pco_id, l.pco_id
FROM pco_push_ledger l CROSS JOIN LATERAL jsonb_array_elements_text(
    CASE jsonb_typeof(l.sent->'people') WHEN 'array' THEN l.sent->'people' ELSE '[]'::jsonb END) AS member(pco_id)
WHERE l.resource_type = 'Household' AND l.state IN ('confirmed', 'adopted')
UNION
SELECT p.pco_id, l.parent_pco_id
FROM pco_push_ledger l
JOIN people p ON l.local_table = 'family_members' AND p.id = CAST(split_part(l.local_key, ':', 2) AS bigint)
WHERE l.resource_type = 'HouseholdMembership' AND l.action = 'create' AND l.state IN ('confirmed', 'adopted')
  AND p.pco_id IS NOT NULL
"""


def _primary_contact(members: list[dict]) -> dict:
    for test in (lambda m: m["is_primary_contact"], lambda m: m["role"] == "head", lambda m: not m["child"]):
        chosen = [m for m in members if test(m)]
        if chosen:
            return chosen[0]
    return members[0]


def plan_families(session: PushSession) -> list[FamilyPush]:
    """Households to create and members to add; skips and notes are recorded on the session."""
    plan = session.report.plan
    with session.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.text(_MEMBERS_IN_PCO + " ORDER BY f.id, p.id"))]
        households_of: dict[str, set[str]] = {}
        for row in conn.execute(sa.text(_HOUSEHOLDS_OF)):
            households_of.setdefault(row.person_pco_id, set()).add(row.household)
        unlinked_families = conn.execute(sa.text(
            "SELECT f.id FROM families f WHERE f.pco_id IS NULL AND f.pco_removed_at IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM family_members fm JOIN people p ON p.id = fm.person_id"
            "                 WHERE fm.family_id = f.id AND p.pco_id IS NOT NULL AND p.is_active)")).scalars().all()
        refused = set(conn.execute(sa.text(
            "SELECT f.id FROM families f WHERE f.pco_id IS NULL AND "
            + refused_earlier_sql("families", "f.id", "f.updated_at"))).scalars())
        intents = ledger.open_intents(conn, "Household", "families")
    plan.notes["families with no member in PCO yet (push people first)"] += len(unlinked_families)
    by_family: dict[int, list[dict]] = {}
    for row in rows:
        by_family.setdefault(row["family_id"], []).append(row)
    pushes = []
    for family_id, members in by_family.items():
        first = members[0]
        if first["family_pco_id"] is not None:
            continue  # linked: see the member additions below
        intent = intents.get(str(family_id))
        item = FamilyPush(family_id, first["name"] or "", None,
                          [Member(m["person_id"], m["pco_id"], m["person_name"]) for m in members],
                          intent=intent, updated_at=first["updated_at"])
        contact = _primary_contact(members)
        item.primary_contact = next(m for m in item.members if m.person_id == contact["person_id"])
        problems = household_problems(item.name)
        if problems:
            session.skip("Household", Skip("families", str(family_id), family_id, INVALID_DATA,
                                           f"{item.label}: " + "; ".join(problems), record=item.sent()))
            continue
        if family_id in refused and intent is None:
            session.skip("Household", Skip.refused_earlier("families", family_id, family_id))
            continue
        elsewhere = sorted({h for m in item.members for h in households_of.get(m.pco_id, ())})
        if elsewhere and intent is None:
            session.skip("Household", Skip(
                "families", str(family_id), family_id, POSSIBLE_DUPLICATE,
                f"{item.label} is not created in PCO: its members are already in PCO household(s) "
                f"{', '.join(elsewhere)}. If that is this family, link it (set families.pco_id) or merge it with the "
                "family the inbound sync made; if it is another household, create this one in PCO by hand.",
                record=item.sent(), details={"households": elsewhere}))
            continue
        plan.add(PlannedWrite("create", "Household", item.label, (
            ("name", item.name), ("people", ", ".join(f"{m.name} (PCO {m.pco_id})" for m in item.members)),
            ("primary_contact", f"{item.primary_contact.name} (PCO {item.primary_contact.pco_id})"))))
        pushes.append(item)
    # Members of linked families that PCO's household does not list (and no push added).
    additions = _missing_members(session, rows, households_of)
    for item in additions:
        for member in item.members:
            plan.add(PlannedWrite("create", "HouseholdMembership", f"{item.label}, person {member.person_id}",
                                  (("household", item.pco_id), ("person", f"{member.name} (PCO {member.pco_id})"),
                                   ("pending", False))))
    return pushes + additions


def _missing_members(session: PushSession, rows: list[dict], households_of: dict[str, set[str]]) -> list[FamilyPush]:
    additions: dict[int, FamilyPush] = {}
    for row in rows:
        household = row["family_pco_id"]
        # An agreed member PCO no longer lists was taken out in PCO: the load's to apply.
        if household is None or row["agreed"] or household in households_of.get(row["pco_id"], ()):
            continue
        item = additions.setdefault(row["family_id"], FamilyPush(row["family_id"], row["name"] or "", household, []))
        item.members.append(Member(row["person_id"], row["pco_id"], row["person_name"]))
    return list(additions.values())


# The linked households whose name or primary contact the church changed (as landed).
_HOUSEHOLDS = """
SELECT f.id, f.pco_id, f.name, f.updated_at, l.normalized->>'name' AS landed_name,
       l.attributes->>'primary_contact_id' AS landed_contact,
       (SELECT b.agreed_values->>'is_primary_contact' = 'true' FROM sync_base b
        WHERE b.entity = 'family_members' AND b.pco_id = f.pco_id || ':' || (l.attributes->>'primary_contact_id')
       ) AS landed_contact_agreed
FROM families f
JOIN pco_landing l ON l.resource = 'people/households' AND l.pco_id = f.pco_id AND l.removed_at IS NULL
WHERE f.pco_id = ANY(:households) AND f.pco_removed_at IS NULL
ORDER BY f.id
"""
# Members taken out of linked families whom PCO's household (as landed) still lists.
_REMOVED_MEMBERS = """
SELECT d.local_id AS family_id, d.parent_pco_id AS household, split_part(d.pco_id, ':', 2) AS person, d.pco_id AS pair,
       l.normalized->>'name' AS household_name,
       EXISTS (SELECT 1 FROM sync_base b WHERE b.entity = 'family_members' AND b.pco_id = d.pco_id) AS agreed,
       (SELECT p.id FROM people p WHERE p.pco_id = split_part(d.pco_id, ':', 2)) AS person_id
FROM church_deletions d
JOIN pco_landing l ON l.resource = 'people/households' AND l.pco_id = d.parent_pco_id AND l.removed_at IS NULL
WHERE d.local_table = 'family_members' AND d.pushed_at IS NULL
  AND l.relationships->'people' ? split_part(d.pco_id, ':', 2)
ORDER BY d.deleted_at, d.pco_id
"""
_DELETED_FAMILIES = """
SELECT d.local_id, d.pco_id, l.normalized->>'name' AS name
FROM church_deletions d
JOIN pco_landing l ON l.resource = 'people/households' AND l.pco_id = d.pco_id AND l.removed_at IS NULL
WHERE d.local_table = 'families' AND d.pushed_at IS NULL
ORDER BY d.deleted_at
"""


@dataclass
class MemberRemoval:
    """A person the church took out of a linked family: their PCO household membership goes."""

    family_id: int
    household: str
    person: str               # PCO person id
    pair: str                 # church_deletions' key: "<household>:<person>"
    household_name: str
    person_id: int | None     # the local person (the ledger and quarantine key is "<family>:<person>", as for adding)
    change: ChurchChange | None = None   # the three-way rule's deletion, when the two sides had agreed on the member

    @property
    def label(self) -> str:
        return f"PCO person {self.person} in household {self.household} ({printable(self.household_name)})"


@dataclass
class HouseholdChange:
    """What the church changed of one linked household, by the three-way rule."""
    name: ChurchChange | None = None          # the family's record, its name to send
    contact: ChurchChange | None = None       # the pair "<household>:<person>" the church made primary
    no_longer_contact: list[ChurchChange] = field(default_factory=list)   # pairs the church unmade primary


def _church_changes(session: PushSession, conn: sa.Connection
                    ) -> tuple[dict[str, HouseholdChange], dict[str, ChurchChange], list[ChurchChange]]:
    """The households to PATCH (by PCO id) and the memberships to delete (by pair), as the
    three-way rule and staff decisions say, and every change of the families (their addresses
    are `family_address_push`'s). Each entity is compared once (`classify_changes`; a real run
    moves its watermark with this transaction)."""
    policies = load_policies()
    changes: dict[str, list[ChurchChange]] = {}
    for name in ("families", "family_members"):
        entity, chosen = ENTITIES[name], policies.for_entity(name)
        classified = classify_changes(conn, entity, chosen, advance=not session.dry_run)
        session.report.compared(name, full=classified.full, drifted=classified.drifted)
        changes[name] = list(church_changes(conn, entity, chosen, classified=classified.table))
    households: dict[str, HouseholdChange] = {}
    for change in changes["families"]:
        if not change.deleted and "name" in change.values:
            households.setdefault(change.pco_id, HouseholdChange()).name = change
    removals: dict[str, ChurchChange] = {}
    for change in changes["family_members"]:
        if change.deleted:
            removals[change.pco_id] = change
        elif "is_primary_contact" in change.values:
            item = households.setdefault(change.pco_id.split(":")[0], HouseholdChange())
            if not change.values["is_primary_contact"]:
                item.no_longer_contact.append(change)
            elif item.contact is None:
                item.contact = change
    return households, removals, changes["families"]


def _person(pair: str) -> str:
    return pair.split(":")[1]


def _confirm_household(item: HouseholdChange) -> Callable[[sa.Connection, Resource], None]:
    """After PCO's answer: the name's base and the members' primary-contact bases move to what PCO holds."""
    def store(conn: sa.Connection, resource: Resource) -> None:
        if item.name is not None:
            sent = item.name.values["name"]
            held = resource.attributes.get("name")
            only_name = replace(item.name, values={"name": sent},
                                conflict_ids={k: v for k, v in item.name.conflict_ids.items() if k == "name"})
            confirm_sent(conn, "families", only_name,
                         {"name": sent if clean_text(held) == clean_text(str(sent or "")) else held})
        if item.contact is not None:
            contact = str(resource.attributes.get("primary_contact_id") or "")
            for change in (item.contact, *item.no_longer_contact):
                confirm_sent(conn, "family_members", change,
                             {"is_primary_contact": _person(change.pco_id) == contact})
    return store


def plan_changes(session: PushSession) -> list[RecordedUpdate | MemberRemoval]:
    """Renamed families, new primary contacts, removed members and changed addresses (each member's
    PCO address, `family_address_push`); a family deleted locally is listed as needing action."""
    plan = session.report.plan
    with session.engine.begin() as conn:
        households, removals, family_changes = _church_changes(session, conn)
        households = {pco_id: item for pco_id, item in households.items()
                      if item.name is not None or item.contact is not None}
        changed = conn.execute(sa.text(_HOUSEHOLDS), {"households": list(households)}).all()
        removed = conn.execute(sa.text(_REMOVED_MEMBERS)).all()
        deleted = conn.execute(sa.text(_DELETED_FAMILIES)).all()
        intents = ledger.open_intents(conn, "Household", "families", [str(r.id) for r in changed], action="update")
    gate = FieldGate(session, "families")
    units: list[RecordedUpdate | MemberRemoval] = []
    for row in changed:
        item = households[row.pco_id]
        ours: dict[str, Any] = {}
        theirs = {"name": row.landed_name, "primary_contact_id": row.landed_contact}
        if item.name is not None:
            ours["name"] = clean_text(str(item.name.values["name"] or "")) or ""
        if item.contact is not None and not item.contact.conflict_ids and not row.landed_contact_agreed:
            # PCO chose another primary contact since the two sides agreed: a conflict the load records.
            item = replace(item, contact=None, no_longer_contact=[])
        if item.contact is not None:
            ours["primary_contact_id"] = _person(item.contact.pco_id)
        label = f"family {row.id} ({printable(row.name)})"
        problems = {"name": household_problems(ours["name"])} if "name" in ours else {}
        sendable = gate.sendable("Household", str(row.id), row.id, label, ours, problems, row.updated_at)
        if not sendable:
            continue
        units.append(RecordedUpdate("Household", "families", str(row.id), row.id, label, row.pco_id,
                                    f"/people/v2/households/{row.pco_id}", sendable, intent=intents.get(str(row.id)),
                                    store=_confirm_household(item)))
        plan.add(PlannedWrite("update", "Household", f"{label}, PCO {row.pco_id}", tuple(
            (name, f"{theirs[name]!r} → {value!r}") for name, value in sendable.items())))
    for row in removed:
        # A member the two sides had agreed on goes only as the three-way rule says (PCO did not
        # change them since, or the church's side won); one no base knows (before two-way sync) goes.
        if row.agreed and row.pair not in removals:
            continue
        item = MemberRemoval(row.family_id, row.household, row.person, row.pair, row.household_name or "",
                             row.person_id, removals.get(row.pair))
        units.append(item)
        plan.add(PlannedWrite("delete", "HouseholdMembership", f"family {row.family_id}: {item.label}",
                              (("person", row.person),)))
    units += plan_address_changes(session, family_changes)
    needs_action = []
    for row in deleted:
        action = (f"family {row.local_id} was deleted in the church; PCO household {row.pco_id} "
                  f"({printable(row.name)}) remains: delete it in PCO if it is gone for good")
        plan.needs_action_in_pco("families deleted in the church whose PCO household remains", action)
        needs_action.append(conflicts.NeedsAction(row.local_id, row.pco_id, None, row.name, action, church_deleted=True))
    if not session.dry_run:   # listed in sync_conflicts too, for staff to mark done (`conflicts resolve`)
        with session.engine.begin() as conn:
            conflicts.record_needs_action(conn, "families", "household", needs_action)
    return units


def plan_batches(session: PushSession) -> Iterator[Sequence[FamilyPush | RecordedUpdate | MemberRemoval]]:
    """The plan, one family per batch (so the run log's progress moves family by family)."""
    for item in plan_families(session):
        yield (item,)
    for change in plan_changes(session):
        yield (change,)


# --- execution ----------------------------------------------------------------------------------

class _FamilyPusher:
    def __init__(self, session: PushSession, client: PCOClient) -> None:
        self.session, self.client = session, client

    def push(self, item: FamilyPush | RecordedUpdate | MemberRemoval) -> None:
        if isinstance(item, RecordedUpdate):
            execute(self.session, self.client, item)
        elif isinstance(item, MemberRemoval):
            self._remove_member(item)
        elif item.pco_id is None:
            household, _ = create_recorded(self.session, self.client, item)
            if household is not None:
                missing = [m for m in item.members if m.pco_id not in set(household.relationship_ids("people"))]
                self._add_members(FamilyPush(item.family_id, item.name, household.id, missing), known=household)
        else:
            self._add_members(item)

    def _add_members(self, item: FamilyPush, known: Resource | None = None) -> None:
        """Add the item's members PCO's household lacks (reading the household unless just created)."""
        session = self.session
        if not item.members:
            return
        household = known
        if household is None:
            try:
                household = self.client.get_resource(f"/people/v2/households/{item.pco_id}")
            except PCONotFound:
                for member in item.members:
                    session.failed("HouseholdMembership", "family_members", f"{item.family_id}:{member.person_id}",
                                   member.person_id, MISSING_IN_PCO,
                                   f"{item.label}'s PCO household {item.pco_id} no longer exists; the inbound sync "
                                   "will update the church record")
                return
        present = set(household.relationship_ids("people"))
        for member in item.members:
            if member.pco_id in present:
                continue
            key = f"{item.family_id}:{member.person_id}"
            sent = {"pending": False, "person": member.pco_id}
            op = Operation("create", "HouseholdMembership", "family_members", key, member.person_id, item.label,
                           f"/people/v2/households/{item.pco_id}/household_memberships",
                           resource_body("HouseholdMembership", {"pending": False},
                                         relationships={"person": ("Person", member.pco_id)}), sent)
            created = send(session, self.client, op, lost=f"PCO's answer to adding person {member.person_id} was "
                                                          "lost; the next push reads the household before adding again")
            if created is None:
                continue
            with session.engine.begin() as conn:
                ledger.record_write(conn, run_id=session.run_id, resource_type=op.resource, action=op.action,
                                    local_table=op.table, local_key=key, sent=sent, resource=created,
                                    parent_pco_id=item.pco_id)
                # Both sides now hold the membership; PCO's new member is not its primary contact
                # (a church choice of them as primary differs from this base, so it is sent).
                advance_base(conn, "family_members", f"{item.pco_id}:{member.pco_id}", item.family_id,
                             {"is_primary_contact": False})
                session.resolve(conn, op.table, key)
            session.counts.add(op.resource, "created")


    def _remove_member(self, item: MemberRemoval) -> None:
        """Find the person's membership in the household (PCO's id for it is not landed), then delete it."""
        session = self.session

        def mark(conn: sa.Connection, outcome: str) -> None:
            conn.execute(sa.text("UPDATE church_deletions SET pushed_at = clock_timestamp(), pushed_as = :outcome"
                                 " WHERE local_table = 'family_members' AND pco_id = :pair"),
                         {"outcome": outcome, "pair": item.pair})
            if item.change is not None:
                confirm_sent(conn, "family_members", item.change, DELETED)

        try:
            memberships = list(self.client.iter_records(
                f"/people/v2/households/{item.household}/household_memberships"))
        except PCONotFound:
            memberships = []
        found = next((m for m in memberships if m.relationship_ids("person") == [item.person]), None)
        if found is None:
            with session.engine.begin() as conn:
                mark(conn, "already_gone")
            session.counts.add("HouseholdMembership", "deleted")
            return
        delete_recorded(session, self.client, RecordedDelete(
            "HouseholdMembership", "family_members", f"{item.family_id}:{item.person_id}", item.person_id, item.label,
            found.id, f"/people/v2/households/{item.household}/household_memberships/{found.id}", store=mark))


FAMILIES = PushKind("families", plan_batches, lambda session, client: _FamilyPusher(session, client).push,
                    needs=HOUSEHOLDS_LOADED)


def run_families_push(engine: sa.Engine, client: PCOClient | None, *, run_id: str | None = None, dry_run: bool = False,
                  progress: Callable[[PushReport], None] | None = None) -> PushReport:
    """Push church families PCO lacks and members its households lack (see the module docstring)."""
    return run_push(FAMILIES, engine, client, run_id=run_id, dry_run=dry_run, progress=progress)
