"""push_families: church families PCO does not have → PCO households; new members → household members.

1. A local family without a `pco_id` whose members include people already in PCO becomes a
   Household: one `POST /people/v2/households` naming those people and the primary contact
   (the family's primary contact if pushed, else its head, else its first adult, else its first
   member). The household id is stored on the family as soon as PCO confirms it. The create is
   recorded as a ledger intent first; after a lost answer the primary contact's households are
   read (`GET /people/v2/people/{id}/households`) and one with the family's name created since
   the intent is adopted instead of created again.
   Not pushed: a family none of whose members is in PCO yet (it waits for push_people), and a
   family one of whose members already belongs to a PCO household (PCO or the church may have it
   already, e.g. as another local family the inbound sync made from that household: creating it
   would duplicate it) — the latter is quarantined as a possible duplicate, naming the households.
2. Members of a linked family (or one just created) who are in PCO but not in its household —
   people pushed after the household was made, e.g. a newborn — are added with
   `POST /people/v2/households/{id}/household_memberships`, `pending: false` (so PCO sends them no
   email). The household's current members are read first (one GET per family), so a member is
   never added twice.

Needs the inbound sync's view of PCO's households (`require_households_loaded`), because that is
how a family PCO already has is told apart from a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.client import PCOClient, resource_body
from pco_pipeline.pco.errors import PCOError, PCONotFound, PCOWriteOutcomeUnknown
from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync import push_ledger as ledger
from pco_pipeline.sync.normalize import InvalidValue, clean_text, parse_timestamp
from pco_pipeline.sync.push import (MISSING_IN_PCO, OUTCOME_UNKNOWN, POSSIBLE_DUPLICATE, PlannedWrite, PushAborted,
                                    PushReport, PushSession, Skip, close_failed_create, exclusive, is_aborting,
                                    refused_earlier_sql)
from pco_pipeline.sync.push_validate import household_problems, printable
from pco_pipeline.sync.quarantine import INVALID_DATA

CLOCK_SKEW = timedelta(hours=1)


@dataclass
class Member:
    person_id: int
    pco_id: str
    name: str


@dataclass
class FamilyPush:
    family_id: int
    name: str
    pco_id: str | None                  # None: the household is created
    members: list[Member]               # members in PCO: all of them (create) or the missing ones (add)
    primary_contact: Member | None = None
    intent: ledger.Intent | None = None
    updated_at: datetime | None = None

    @property
    def label(self) -> str:
        return f"family {self.family_id} ({printable(self.name)})"

    def body(self) -> dict[str, Any]:
        return resource_body("Household", {"name": self.name},
                             relationships={"people": [("Person", m.pco_id) for m in self.members],
                                            "primary_contact": ("Person", self.primary_contact.pco_id)})

    def sent(self) -> dict[str, Any]:
        """What the ledger keeps of the create: the name and the people it named."""
        return {"name": self.name, "people": [m.pco_id for m in self.members],
                "primary_contact": self.primary_contact.pco_id}


def require_households_loaded(conn: sa.Connection) -> None:
    """Refuse to create households before the inbound sync has read and loaded PCO's households."""
    listed = conn.execute(sa.text(
        "SELECT 1 FROM pco_listing WHERE resource = 'people/households' AND finished_at IS NOT NULL LIMIT 1")).scalar()
    if listed is None:
        raise PushAborted("PCO's households have never been read: run the inbound families sync "
                          "(`pco-pipeline sync families`) first, so families PCO already has are not duplicated")
    unloaded = conn.execute(sa.text(
        "SELECT count(*) FROM pco_landing h WHERE h.resource = 'people/households' AND h.removed_at IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM families f WHERE f.pco_id = h.pco_id)"
        " AND NOT EXISTS (SELECT 1 FROM sync_quarantine q WHERE q.entity = 'families' AND q.record_key = h.pco_id"
        "                 AND q.resolved_at IS NULL)")).scalar_one()
    if unloaded:
        raise PushAborted(f"{unloaded} PCO households were read but not loaded into the church database yet: run the "
                          "inbound families sync (`pco-pipeline sync families`) first")


_MEMBERS_IN_PCO = """
SELECT f.id AS family_id, btrim(f.name) AS name, f.pco_id AS family_pco_id, f.updated_at,
       p.id AS person_id, p.pco_id, btrim(p.first_name || ' ' || p.last_name) AS person_name,
       fm.is_primary_contact, fm.role, p.child
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
WHERE l.resource_type = 'HouseholdMembership' AND l.state IN ('confirmed', 'adopted') AND p.pco_id IS NOT NULL
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
            session.skip("Household", Skip("families", str(family_id), family_id, "refused_by_pco",
                                           "PCO refused it before and it has not changed since", quarantine=False))
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
        if household is None or household in households_of.get(row["pco_id"], ()):
            continue
        item = additions.setdefault(row["family_id"], FamilyPush(row["family_id"], row["name"] or "", household, []))
        item.members.append(Member(row["person_id"], row["pco_id"], row["person_name"]))
    return list(additions.values())


# --- execution ----------------------------------------------------------------------------------

class _FamilyPusher:
    def __init__(self, session: PushSession, client: PCOClient) -> None:
        self.session, self.client = session, client

    def push(self, item: FamilyPush) -> None:
        if item.pco_id is None:
            household = self._create(item)
            if household is not None:
                missing = [m for m in item.members if m.pco_id not in set(household.relationship_ids("people"))]
                self._add_members(FamilyPush(item.family_id, item.name, household.id, missing), known=household)
        else:
            self._add_members(item)

    def _find_created(self, item: FamilyPush, since: datetime) -> Resource | None:
        """The household a lost create made: one of the primary contact's, with our name, created since."""
        contact = item.primary_contact.pco_id
        with self.session.engine.connect() as conn:
            linked = set(conn.execute(sa.text("SELECT pco_id FROM families WHERE pco_id IS NOT NULL")).scalars())
        found = []
        for household in self.client.iter_records(f"/people/v2/people/{contact}/households"):
            try:
                created = parse_timestamp(household.get("created_at"), "created_at")
            except InvalidValue:
                created = None
            if household.id in linked or created is None or created < since - CLOCK_SKEW:
                continue
            if (clean_text(household.get("name")) or "").casefold() != item.name.casefold():
                continue
            found.append((created, len(household.id), household.id, household))
        return min(found, key=lambda f: f[:3])[3] if found else None

    def _store(self, item: FamilyPush, ledger_id: int, household: Resource, state: str) -> bool:
        session = self.session
        with session.engine.begin() as conn:
            stored = conn.execute(sa.text(
                "UPDATE families SET pco_id = :pco_id, pco_updated_at = CAST(:updated AS timestamptz),"
                " updated_at = now() WHERE id = :id AND pco_id IS NULL"),
                {"pco_id": household.id, "updated": household.get("updated_at"), "id": item.family_id}).rowcount
            ledger.confirm(conn, ledger_id, household, state=state,
                           detail=None if stored else "the local family was linked to another household meanwhile")
            if stored:
                session.resolve(conn, "families", str(item.family_id))
        if not stored:
            session.failed("Household", "families", str(item.family_id), item.family_id, "linked_meanwhile",
                           f"{item.label} was linked to another household while PCO household {household.id} was "
                           "being created for it: remove one of them in PCO", record=item.sent())
            return False
        session.counts.add("Household", "adopted" if state == "adopted" else "created")
        return True

    def _create(self, item: FamilyPush) -> Resource | None:
        session = self.session
        if item.intent is not None:
            found = self._find_created(item, item.intent.sent_at)
            if found is not None:
                return found if self._store(item, item.intent.id, found, "adopted") else None
        with session.engine.begin() as conn:
            intent = ledger.record_intent(conn, run_id=session.run_id, resource_type="Household",
                                          local_table="families", local_key=str(item.family_id), sent=item.sent())
        ledger_id, sent_at = intent.id, intent.sent_at
        try:
            household = self.client.post("/people/v2/households", item.body())
        except PCOWriteOutcomeUnknown:
            found = self._find_created(item, sent_at)
            if found is not None:
                return found if self._store(item, ledger_id, found, "adopted") else None
            session.failed("Household", "families", str(item.family_id), item.family_id, OUTCOME_UNKNOWN,
                           f"{item.label}: PCO's answer to the create was lost and PCO does not show the household "
                           "yet; the next push looks again before creating", record=item.sent())
            return None
        except PCOError as exc:
            close_failed_create(session.engine, ledger_id, exc)
            session.refused("Household", "families", str(item.family_id), item.family_id, exc, item.sent())
            return None
        return household if self._store(item, ledger_id, household, "confirmed") else None

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
            key = f"{item.family_id}:{member.person_id}"
            if member.pco_id in present:
                continue
            body = resource_body("HouseholdMembership", {"pending": False},
                                 relationships={"person": ("Person", member.pco_id)})
            try:
                created = self.client.post(f"/people/v2/households/{item.pco_id}/household_memberships", body)
            except PCOWriteOutcomeUnknown:
                session.failed("HouseholdMembership", "family_members", key, member.person_id, OUTCOME_UNKNOWN,
                               f"{item.label}: PCO's answer to adding person {member.person_id} was lost; the next "
                               "push reads the household before adding again", record={"person": member.pco_id})
                continue
            except PCOError as exc:
                if is_aborting(exc):
                    raise
                session.refused("HouseholdMembership", "family_members", key, member.person_id, exc,
                                {"person": member.pco_id, "pending": False})
                continue
            with session.engine.begin() as conn:
                ledger.record_write(conn, run_id=session.run_id, resource_type="HouseholdMembership", action="create",
                                    local_table="family_members", local_key=key,
                                    sent={"pending": False, "person": member.pco_id}, resource=created,
                                    parent_pco_id=item.pco_id)
                session.resolve(conn, "family_members", key)
            session.counts.add("HouseholdMembership", "created")


def push_families(engine: sa.Engine, client: PCOClient | None, *, run_id: str | None = None, dry_run: bool = False,
                  progress: Callable[[PushReport], None] | None = None) -> PushReport:
    """Push church families PCO lacks and members its households lack (see the module docstring)."""
    session = PushSession("families", engine, client, run_id=run_id, dry_run=dry_run)
    with exclusive(engine, "families"):
        with engine.connect() as conn:
            require_households_loaded(conn)
        items = plan_families(session)
        if dry_run:
            return session.report
        if client is None:
            raise ValueError("a push that sends needs a PCO client")
        pusher = _FamilyPusher(session, client)
        for item in items:
            try:
                pusher.push(item)
            except PCOError as exc:
                if is_aborting(exc):
                    raise PushAborted(f"push_families stopped: {exc}") from exc
                raise
            if progress is not None:
                progress(session.report)
    return session.report
