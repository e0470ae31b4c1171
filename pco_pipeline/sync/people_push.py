"""The people push: church people PCO does not have yet → PCO people, with emails, phones and address.

Who is pushed:
- local people without a `pco_id` (not merged away), unless the inbound sync found them
  ambiguous (a PCO person matched them and someone else: pushing would make a duplicate), and
  only once the inbound people sync is up to date (`push_engine.PEOPLE_LOADED`);
- the emails and phones the church added to people PCO has (whoever created them), and the
  still-unsent family address of people this pipeline created in PCO (a create interrupted
  before its contacts, or a contact fixed after it was refused). The address of a person who came
  from PCO is PCO's: a family address is sent only with the people the push creates.
People PCO already has: the church's changes to them and to their emails and phones, and the
church's deletions, are sent as updates and deletes (`people_updates`), except for the records PCO
changed since they were last read (`hold_unread_pco_changes`: one listing per table of what PCO
changed since the latest landed change, for the records the run did not read just before the push
— a push_changes batch's are read one by one and loaded first): those wait for the next sync, so an
unread PCO edit is never overwritten silently.

A create PCO confirmed gives the person, and each email and phone, a base (`sync_base`) in the
transaction that stores its PCO id: the values both sides now hold, so a church edit made before
the next sync is sent, not mistaken for a first sync's difference.

What is sent, per person (≤ 3 requests for one email and one phone):
1. `POST /people/v2/people` with the person's fields and `remote_id` = the local id; the PCO id
   is stored on the local row in the same transaction that confirms the ledger intent, which
   was committed before the POST (`push_ledger`). If that answer is lost
   (PCOWriteOutcomeUnknown), or a previous run died after sending it (its intent is still open),
   the person is looked up by `where[remote_id]` and adopted — only a record with the name we
   sent, created since the intent, and not linked to anyone else — instead of created again.
   Only then: the intent committed before every POST is what tells a possibly-made create from
   a new one, so an ordinary create costs no lookup (PCO has no IN filter to batch them).
2. each email, phone number and the family address (`POST /people/v2/people/{id}/…`). For a
   person created in this run PCO has none yet; otherwise (adopted, or created by an earlier run)
   the person's current contacts are read first (one GET, or the lookup's own `include`) and a
   contact PCO already has (same normalized email, same E.164 number, same street/city/zip) is
   linked instead of created. The local contact gets its PCO id and PCO's location and primary
   flag (and E.164), so the next inbound sync finds nothing to change.

People are pushed by the engine's small pool of threads sharing the client (its rate budget is
shared and thread-safe), in id order, `BATCH` at a time, so memory stays bounded; the ledger
steps of the create (intent, look-up by remote_id, adoption) are `push_engine.create_recorded`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.client import PCOClient, resource_body
from pco_pipeline.pco.errors import PCOError, PCONotFound
from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync import push_ledger as ledger
from pco_pipeline.sync.base import advance_base
from pco_pipeline.sync.normalize import (clean_text, normalize_email, normalize_email_record, normalize_person,
                                         normalize_phone, normalize_phone_record)
from pco_pipeline.sync.push import (MISSING_IN_PCO, POSSIBLE_DUPLICATE, PlannedWrite, PushReport, PushSession, Skip,
                                    latest_write_sql, pco_view, refused_earlier_sql)
from pco_pipeline.sync.people_updates import (UpdatePlan, contact_value, delete_people_setting, person_value,
                                             plan_updates)
from pco_pipeline.sync.push_engine import (PEOPLE_LOADED, Operation, PushKind, RecordedCreate, create_recorded, execute,
                                           run_push, send)
from pco_pipeline.sync.push_validate import (address_attributes, address_problems, email_problems, person_problems,
                                             phone_problems, printable)
from pco_pipeline.sync.quarantine import INVALID_DATA
from pco_pipeline.sync.statements import statement

BATCH = 500
# Requests are paced by the shared rate budget, not by the pool: the workers only hide each write's
# round trips (PCO's latency, the ledger's two commits). Eight keep a compressed-rate sandbox busy
# (bench_two_way, 4 → 8: push 4.7 → 3.3 s on a loaded machine); with the lock's and the planner's
# connections they fit db.engine's pool (5 + 5 overflow).
DEFAULT_WORKERS = 8
PERSON_FIELDS = ("first_name", "last_name", "nickname", "middle_name", "gender", "birthdate", "child", "grade",
                 "status", "membership")
CONTACT_INCLUDES = ("emails", "phone_numbers", "addresses")


@dataclass(frozen=True)
class ContactPush:
    """One email, phone number or address to create under a PCO person."""

    resource: str            # Email | PhoneNumber | Address
    relationship: str        # the Person's collection: emails | phone_numbers | addresses
    table: str               # person_emails | person_phones | families (the family address)
    key: str                 # local key: the contact's id, or "family:person" for the address
    local_id: int | None
    attributes: dict[str, Any]
    match_key: Any           # compared with the same key of PCO's existing contacts
    church_text: Any = None  # an email's address or a phone's number as the church row holds it

    @property
    def label(self) -> str:
        if self.resource == "Address":
            return f"address of family {self.local_id}"
        return f"{'email' if self.resource == 'Email' else 'phone'} {self.local_id}"

    def created_base(self, resource: Resource) -> dict[str, Any]:
        """The base of a linked email or phone once PCO confirmed it (created, or an existing one
        linked): the location and primary flag the church row is given from PCO's answer, and
        the church's address or number where PCO holds the same (compared as contacts are
        matched); where PCO holds another, that field keeps no base (the next load's three-way
        rule weighs both values). Empty for the family address (the families' own base)."""
        if self.resource == "Address":
            return {}
        base: dict[str, Any] = {"location": resource.get("location"), "is_primary": bool(resource.get("primary"))}
        if _match_key(self.resource, resource.attributes) == self.match_key:
            base["address" if self.resource == "Email" else "number"] = self.church_text
        return base

    def operation(self, person: PersonPush, pco_id: str) -> Operation:
        """The create under PCO person `pco_id` (no ledger intent: PCO's contacts are read first)."""
        return Operation("create", self.resource, self.table, self.key, self.local_id, person.label,
                         f"/people/v2/people/{pco_id}/{self.relationship}",
                         resource_body(self.resource, self.attributes), self.attributes)


@dataclass
class PersonPush(RecordedCreate):
    person: dict[str, Any]
    pco_id: str | None                       # None: the person is created
    attributes: dict[str, Any]               # the Person create's attributes
    contacts: list[ContactPush] = field(default_factory=list)
    intent: ledger.Intent | None = None      # a create whose answer a previous run lost

    pco_noun = "PCO person"
    linked_meanwhile_remedy = "merge the two in PCO"

    @property
    def id(self) -> int:
        return self.person["id"]

    @property
    def label(self) -> str:
        name = " ".join(str(self.person.get(f) or "").strip() for f in ("first_name", "last_name")).strip()
        return f"person {self.id} ({printable(name)})" if name else f"person {self.id}"

    def operation(self) -> Operation:
        return Operation("create", "Person", "people", str(self.id), self.id, self.label, "/people/v2/people",
                         resource_body("Person", self.attributes), self.attributes)

    def candidates(self, client: PCOClient) -> Iterator[Resource]:
        """PCO people with our remote_id, with their contacts (an adopted person's are compared next)."""
        return client.iter_records("/people/v2/people", where={"remote_id": self.id}, include=list(CONTACT_INCLUDES))

    def is_ours(self, record: Resource, sent: Mapping[str, Any]) -> bool:
        return str(record.get("remote_id")) == str(self.id) and all(
            (clean_text(record.get(f)) or "").casefold() == (clean_text(sent.get(f)) or "").casefold()
            for f in ("first_name", "last_name"))

    def store(self, conn: sa.Connection, resource: Resource) -> bool:
        """Link the church row to the PCO person and, in the same transaction, give the person a
        base (`created_base`): without one, a church edit made before the next sync would look
        like a first sync's difference and PCO's value would be taken over it."""
        stored = bool(conn.execute(sa.text(
            "UPDATE people SET pco_id = :pco_id, pco_updated_at = CAST(:updated AS timestamptz), updated_at = now()"
            " WHERE id = :id AND pco_id IS NULL"),
            {"pco_id": resource.id, "updated": resource.get("updated_at"), "id": self.id}).rowcount)
        if stored:
            advance_base(conn, "people", resource.id, self.id, self.created_base(resource))
        return stored

    def created_base(self, resource: Resource) -> dict[str, Any]:
        """The values church and PCO agree on once PCO confirmed the person (created, or found
        after a lost answer): per two-way field, the church's value as planned (what was sent)
        where PCO's record holds the same value as the push compares them (so "M" and "Male", or
        no status and "active", agree, and the next load writes PCO's spelling). A field PCO
        stored otherwise gets no base: the next load's three-way rule weighs both values."""
        pco = normalize_person(resource.attributes)
        return {name: self.person.get(name) for name in PERSON_FIELDS
                if _person_field(name, self.person.get(name)) == _person_field(name, pco.get(name))}


def _match_key(resource: str, attributes: dict[str, Any]) -> Any:
    """What makes two contacts the same: normalized email, E.164 number, street + city + zip."""
    if resource == "Email":
        return normalize_email(attributes.get("address"))
    if resource == "PhoneNumber":
        return clean_text(attributes.get("e164")) or normalize_phone(attributes.get("number")).e164
    return tuple((clean_text(attributes.get(f)) or "").casefold() for f in ("street_line_1", "city", "zip"))


def person_attributes(person: dict[str, Any]) -> dict[str, Any]:
    """The Person create body's attributes: the local fields that have a value, and remote_id."""
    values = {name: person.get(name) for name in PERSON_FIELDS}
    if values["birthdate"] is not None:
        values["birthdate"] = values["birthdate"].isoformat()
    values = {name: value for name, value in values.items() if value is not None}
    values["remote_id"] = person["id"]
    return values


# --- planning -----------------------------------------------------------------------------------

# A person this pipeline created in PCO (not one it only updated).
_LEDGER_PERSON = ("EXISTS (SELECT 1 FROM pco_push_ledger l WHERE l.resource_type = 'Person' AND l.action = 'create'"
                  " AND l.local_table = 'people' AND l.local_key = CAST(p.id AS text) AND l.pco_id = p.pco_id"
                  " AND l.state IN ('confirmed', 'adopted'))")
_ADDRESS_PUSHED = ("EXISTS (SELECT 1 FROM pco_push_ledger l WHERE l.resource_type = 'Address'"
                   " AND l.local_table = 'families' AND l.local_key = fam.id || ':' || p.id"
                   " AND l.state IN ('confirmed', 'adopted'))")
# The family whose address a person gets: one where they are the primary contact first.
_FAMILY = """
LEFT JOIN LATERAL (
    SELECT f.id, f.street_line_1, f.street_line_2, f.city, f.state, f.zip, f.country_code, f.updated_at
    FROM family_members fm JOIN families f ON f.id = fm.family_id
    WHERE fm.person_id = p.id
      AND coalesce(btrim(f.street_line_1), btrim(f.street_line_2), btrim(f.city), btrim(f.state), btrim(f.zip),
                   btrim(f.country_code), '') <> ''
    ORDER BY fm.is_primary_contact DESC, f.id
    LIMIT 1
) fam ON true
"""
_PEOPLE = f"""
SELECT p.id, p.pco_id, p.first_name, p.last_name, p.nickname, p.middle_name, p.gender, p.birthdate, p.child,
       p.grade, p.status, p.membership, p.updated_at,
       {refused_earlier_sql('people', 'p.id', 'p.updated_at')} AS refused_earlier,
       fam.id AS family_id, fam.street_line_1, fam.street_line_2, fam.city, fam.state, fam.zip,
       fam.country_code, fam.updated_at AS family_updated_at,
       (fam.id IS NOT NULL AND NOT {_ADDRESS_PUSHED} AND (p.pco_id IS NULL OR {_LEDGER_PERSON})) AS address_pending
FROM people p
{_FAMILY}
WHERE p.id > :after AND p.merged_into_id IS NULL
  AND (p.pco_id IS NULL
       OR (p.is_active
           AND (EXISTS (SELECT 1 FROM person_emails e WHERE e.person_id = p.id AND e.pco_id IS NULL)
                OR EXISTS (SELECT 1 FROM person_phones ph WHERE ph.person_id = p.id AND ph.pco_id IS NULL)
                OR (fam.id IS NOT NULL AND NOT {_ADDRESS_PUSHED} AND {_LEDGER_PERSON}))))
ORDER BY p.id
LIMIT :limit
"""
_EMAILS = f"""
SELECT e.id, e.person_id, e.address, e.location, e.is_primary,
       {refused_earlier_sql('person_emails', 'e.id', 'e.updated_at')} AS refused_earlier
FROM person_emails e WHERE e.person_id = ANY(:people) AND e.pco_id IS NULL ORDER BY e.person_id, e.id
"""
_PHONES = f"""
SELECT ph.id, ph.person_id, ph.number, ph.e164, ph.location, ph.is_primary,
       {refused_earlier_sql('person_phones', 'ph.id', 'ph.updated_at')} AS refused_earlier
FROM person_phones ph WHERE ph.person_id = ANY(:people) AND ph.pco_id IS NULL ORDER BY ph.person_id, ph.id
"""
# Local people an ambiguous inbound match named as candidates: PCO may already have them. Held
# while the match is quarantined, and after that PCO person was linked to another candidate (by
# staff in the console or by hand: the same human may be in the church database twice), until
# staff say this one is a different person (`distinct_people`, sql/0011_console.sql).
# `linked_to` is the local person the PCO person was linked to, NULL while it is quarantined.
HELD_CANDIDATES = """
SELECT DISTINCT ON (CAST(c.value AS bigint))
       CAST(c.value AS bigint) AS person_id, q.record_key AS pco_person, linked.id AS linked_to
FROM sync_quarantine q
CROSS JOIN LATERAL jsonb_array_elements_text(
    CASE jsonb_typeof(q.details->'candidates') WHEN 'array' THEN q.details->'candidates' ELSE '[]'::jsonb END) c
LEFT JOIN people linked ON q.resolved_at IS NOT NULL AND linked.pco_id = q.record_key
WHERE q.entity = 'people' AND q.reason_code = 'ambiguous_match' AND c.value ~ '^[0-9]+$'
  AND (q.resolved_at IS NULL OR (linked.id IS NOT NULL AND linked.id <> CAST(c.value AS bigint)))
  AND NOT EXISTS (SELECT 1 FROM distinct_people d
                  WHERE d.person_id = CAST(c.value AS bigint) AND d.pco_person_id = q.record_key)
ORDER BY CAST(c.value AS bigint), q.resolved_at IS NOT NULL, q.record_key
"""


def _skip(session: PushSession, resource: str, table: str, key: Any, local_id: int | None, reason: str, *,
          code: str = INVALID_DATA, record: Any = None, details: dict | None = None, refused_earlier: bool = False
          ) -> None:
    if refused_earlier:
        session.skip(resource, Skip.refused_earlier(table, key, local_id))
    else:
        session.skip(resource, Skip(table, str(key), local_id, code, reason, record=record, details=details))


def _plan_contacts(session: PushSession, item: PersonPush, emails: list, phones: list, row: Any) -> None:
    for email in emails:
        attributes = {"address": clean_text(email.address) or email.address, "primary": bool(email.is_primary)}
        if email.location:
            attributes["location"] = email.location
        problems = email_problems(email.address, email.location)
        if problems or email.refused_earlier:
            _skip(session, "Email", "person_emails", email.id, email.id, f"{item.label}: " + "; ".join(problems),
                  record=attributes, refused_earlier=email.refused_earlier and not problems)
            continue
        item.contacts.append(ContactPush("Email", "emails", "person_emails", str(email.id), email.id, attributes,
                                         _match_key("Email", attributes), church_text=email.address))
    for phone in phones:
        attributes = {"number": phone.number, "primary": bool(phone.is_primary)}
        if phone.location:
            attributes["location"] = phone.location
        problems = phone_problems(phone.number, phone.e164, phone.location)
        if problems or phone.refused_earlier:
            _skip(session, "PhoneNumber", "person_phones", phone.id, phone.id,
                  f"{item.label}: " + "; ".join(problems), record=attributes,
                  refused_earlier=phone.refused_earlier and not problems)
            continue
        item.contacts.append(ContactPush("PhoneNumber", "phone_numbers", "person_phones", str(phone.id), phone.id,
                                         attributes, normalize_phone(phone.number).e164, church_text=phone.number))
    if row.address_pending:
        values = address_attributes(row._mapping)
        key = f"{row.family_id}:{item.id}"
        attributes = {**(values or {}), "location": "Home", "primary": True}
        problems = address_problems(values or {})
        if problems:
            _skip(session, "Address", "families", key, row.family_id,
                  f"family {row.family_id} (address of {item.label}): " + "; ".join(problems), record=attributes)
        else:
            item.contacts.append(ContactPush("Address", "addresses", "families", key, row.family_id, attributes,
                                             _match_key("Address", attributes)))


def _held_reason(item: PersonPush, held: Any) -> str:
    if held.linked_to is None:
        return (f"{item.label} may already be in PCO: the inbound sync found PCO person {held.pco_person} "
                "ambiguous between it and others. Link the right one by hand (set pco_id) or in the staff "
                "console's quarantine review instead of creating a duplicate.")
    return (f"{item.label} may already be in PCO: it was a candidate for PCO person {held.pco_person}, which was "
            f"linked to church person {held.linked_to}; they may be the same person twice. If they are "
            "different people, say so in the staff console (Quarantine → held from PCO) and the next push "
            "creates this one.")


def plan_batches(session: PushSession, batch: int = BATCH) -> Iterator[list[PersonPush]]:
    """The people to push, `batch` at a time, validated; skips are recorded on the session as found."""
    with session.engine.connect() as conn:
        held = {row.person_id: row for row in conn.execute(sa.text(HELD_CANDIDATES))}
    after = 0
    while True:
        with session.engine.connect() as conn:
            rows = conn.execute(sa.text(_PEOPLE), {"after": after, "limit": batch}).all()
            if not rows:
                return
            ids = [row.id for row in rows]
            emails: dict[int, list] = {}
            for email in conn.execute(sa.text(_EMAILS), {"people": ids}):
                emails.setdefault(email.person_id, []).append(email)
            phones: dict[int, list] = {}
            for phone in conn.execute(sa.text(_PHONES), {"people": ids}):
                phones.setdefault(phone.person_id, []).append(phone)
            intents = ledger.open_intents(conn, "Person", "people", [str(i) for i in ids])
        after = ids[-1]
        items = []
        for row in rows:
            person = dict(row._mapping)
            item = PersonPush(person=person, pco_id=row.pco_id, attributes=person_attributes(person),
                              intent=intents.get(str(row.id)))
            if item.pco_id is None:
                if row.id in held and item.intent is None:
                    _skip(session, "Person", "people", row.id, row.id, _held_reason(item, held[row.id]),
                          code=POSSIBLE_DUPLICATE, record=item.attributes,
                          details={"pco_person": held[row.id].pco_person})
                    continue
                problems = person_problems(person, today=session.today)
                if problems or (row.refused_earlier and item.intent is None):
                    _skip(session, "Person", "people", row.id, row.id, f"{item.label}: " + "; ".join(problems),
                          record=item.attributes, refused_earlier=row.refused_earlier and not problems)
                    continue
                session.report.plan.add(PlannedWrite("create", "Person", item.label, tuple(item.attributes.items())))
            _plan_contacts(session, item, emails.get(row.id, []), phones.get(row.id, []), row)
            for contact in item.contacts:
                session.report.plan.add(PlannedWrite("create", contact.resource, f"{contact.label} of {item.label}",
                                                     tuple(contact.attributes.items())))
            if item.pco_id is None or item.contacts:
                items.append(item)
        yield items


# --- execution ----------------------------------------------------------------------------------

class _PeoplePusher:
    def __init__(self, session: PushSession, client: PCOClient) -> None:
        self.session, self.client = session, client

    def push(self, item: PersonPush) -> None:
        """Create the person (unless linked), then the contacts PCO lacks."""
        pco_id, existing = item.pco_id, None
        if pco_id is None:
            person, state = create_recorded(self.session, self.client, item)
            if person is None:
                return
            pco_id = person.id
            existing = {name: person.related_list(name) if state == "adopted" else [] for name in CONTACT_INCLUDES}
        if item.contacts:
            if existing is None:
                existing = self._existing_contacts(item, pco_id)
                if existing is None:
                    return
            self._push_contacts(item, pco_id, existing)

    def _existing_contacts(self, item: PersonPush, pco_id: str) -> dict | None:
        try:
            person = self.client.get_resource(f"/people/v2/people/{pco_id}", include=list(CONTACT_INCLUDES))
        except PCONotFound:
            for contact in item.contacts:
                self.session.failed(contact.resource, contact.table, contact.key, contact.local_id, MISSING_IN_PCO,
                                    f"{item.label}'s PCO person {pco_id} no longer exists (deleted or merged in "
                                    "PCO); the inbound sync will update the church record", record=contact.attributes)
            return None
        return {name: person.related_list(name) for name in CONTACT_INCLUDES}

    def _push_contacts(self, item: PersonPush, pco_id: str, existing: dict[str, list[Resource]]) -> None:
        """Create (or link) the person's contacts; their ids are stored together once they are all sent.

        A crash in between loses nothing: the next push reads the person's contacts and links them.
        """
        taken = self._linked_contact_ids(existing)
        done: list[tuple[ContactPush, Resource, str]] = []
        try:
            for contact in item.contacts:
                match = next((r for r in existing.get(contact.relationship, []) if (r.type, r.id) not in taken
                              and _match_key(contact.resource, r.attributes) == contact.match_key), None)
                if match is not None:
                    taken.add((match.type, match.id))
                    done.append((contact, match, "adopted"))
                    continue
                created = send(self.session, self.client, contact.operation(item, pco_id),
                               lost=f"PCO's answer to creating this {contact.resource} was lost; the next push "
                                    "compares with PCO before sending it again")
                if created is not None:
                    taken.add((created.type, created.id))
                    done.append((contact, created, "confirmed"))
        except PCOError:
            self._store_contacts(pco_id, done)   # what PCO confirmed before the run stopped
            raise
        self._store_contacts(pco_id, done)

    def _linked_contact_ids(self, existing: dict[str, list[Resource]]) -> set[tuple[str, str]]:
        """(type, id) of the person's PCO contacts some local record is already linked to."""
        ids = {name: [r.id for r in records] for name, records in existing.items()}
        if not any(ids.values()):
            return set()
        with self.session.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT 'Email', pco_id FROM person_emails WHERE pco_id = ANY(:emails)"
                " UNION ALL SELECT 'PhoneNumber', pco_id FROM person_phones WHERE pco_id = ANY(:phones)"
                " UNION ALL SELECT 'Address', pco_id FROM pco_push_ledger WHERE resource_type = 'Address'"
                "   AND pco_id = ANY(:addresses) AND state IN ('confirmed', 'adopted')"),
                {"emails": ids.get("emails", []), "phones": ids.get("phone_numbers", []),
                 "addresses": ids.get("addresses", [])}).all()
        return {(type_, pco_id) for type_, pco_id in rows}

    def _store_contacts(self, pco_id: str, done: list[tuple[ContactPush, Resource, str]]) -> None:
        """Store the PCO ids (and PCO's location, primary flag, E.164) on the local contacts, and
        their base (`ContactPush.created_base`), in one transaction."""
        if not done:
            return
        session = self.session
        with session.engine.begin() as conn:
            for contact, resource, state in done:
                values = {"pco_id": resource.id, "id": contact.local_id, "location": resource.get("location"),
                          "primary": bool(resource.get("primary")), "e164": resource.get("e164")}
                if contact.table == "person_emails":
                    conn.execute(sa.text(
                        "UPDATE person_emails SET pco_id = :pco_id, location = :location, is_primary = :primary,"
                        " updated_at = now() WHERE id = :id"), values)
                elif contact.table == "person_phones":
                    conn.execute(sa.text(
                        "UPDATE person_phones SET pco_id = :pco_id, location = :location, is_primary = :primary,"
                        " e164 = coalesce(:e164, e164), updated_at = now() WHERE id = :id"), values)
                base = contact.created_base(resource)
                if base and contact.local_id is not None:
                    advance_base(conn, contact.table, resource.id, contact.local_id, base)
                ledger.record_write(conn, run_id=session.run_id, resource_type=contact.resource, action="create",
                                    local_table=contact.table, local_key=contact.key, sent=contact.attributes,
                                    resource=resource, parent_pco_id=pco_id, state=state)
                session.resolve(conn, contact.table, contact.key)
        for contact, _, state in done:
            session.counts.add(contact.resource, "adopted" if state == "adopted" else "created")


# --- PCO's changes not read yet ---------------------------------------------------------------------

@dataclass(frozen=True)
class _Read:
    """How the push re-reads what PCO changed of one table's linked records since they were landed."""

    resource: str                               # PCO type (the ledger's), e.g. Person
    landed: str                                 # the landed resource, e.g. people/people
    path: str                                   # PCO's listing, ordered and filtered by updated_at
    normalize: Callable[[Mapping[str, Any]], dict[str, Any]]
    fields: tuple[str, ...]                     # the two-way fields, as normalized
    value: Callable[[str, Any], Any]            # a field's value as compared


def _person_field(name: str, value: Any) -> Any:
    """A person field as the push compares it (a church row without a status is active, as in PCO)."""
    value = person_value(name, value)
    return (value or "active").lower() if name == "status" else value


_READS = {
    "people": _Read("Person", "people/people", "/people/v2/people", normalize_person, PERSON_FIELDS, _person_field),
    "person_emails": _Read("Email", "people/emails", "/people/v2/emails", normalize_email_record,
                           ("address", "location", "is_primary"), contact_value),
    "person_phones": _Read("PhoneNumber", "people/phone_numbers", "/people/v2/phone_numbers",
                           normalize_phone_record, ("number", "location", "is_primary"), contact_value),
}


def changed_since_read(session: PushSession, table: str, pco_ids: Collection[str]) -> set[str]:
    """The PCO records of `table` among `pco_ids` whose values PCO changed since they were last
    read (landed, or answered to our own write): one listing of the records PCO changed since the
    latest landed change (a page or two between syncs), compared field by field with what the
    church database knows of them."""
    read = _READS[table]
    if not pco_ids or session.client is None:
        return set()
    with session.engine.connect() as conn:
        since = conn.execute(sa.text("SELECT max(pco_updated_at) FROM pco_landing WHERE resource = :resource"),
                             {"resource": read.landed}).scalar()
        # The type comes from _READS, never input. A record with an update in flight (its answer
        # lost) is left to the engine, which resumes it by reading the record.
        known = {row.pco_id: pco_view(row, read.normalize) for row in conn.execute(sa.text(
            "SELECT l.pco_id, l.normalized AS landed, l.pco_updated_at AS landed_at, w.confirmed AS written,"
            f" w.pco_updated_at AS written_at FROM pco_landing l {latest_write_sql(read.resource, 'l.pco_id')}"
            " WHERE l.resource = :resource AND l.pco_id = ANY(:ids) AND NOT EXISTS (SELECT 1 FROM pco_push_ledger i"
            "   WHERE i.resource_type = :type AND i.action = 'update' AND i.state = 'sent' AND i.pco_id = l.pco_id)"),
            {"resource": read.landed, "type": read.resource, "ids": list(pco_ids)})}
    if since is None or not known:
        return set()
    changed: set[str] = set()
    for record in session.client.iter_records(read.path, order="updated_at", params={
            "where[updated_at][gte]": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}):
        last = known.get(record.id)
        if last is None:
            continue
        now = read.normalize(record.attributes)
        if any(read.value(name, now.get(name)) != read.value(name, last.get(name)) for name in read.fields):
            changed.add(record.id)
    return changed


def read_before_push(session: PushSession) -> dict[str, set[str]]:
    """The linked records, per table, this push's run read from PCO before the push began: the
    people a push_changes run's outbox rows name (`outbox.refresh_pco_side`, which stamps the rows
    it read for `pco_read_at`), with the emails and phones read as their person's includes. Empty
    for a run that read nothing first (full_push, the CLI's push)."""
    if session.run_id is None:
        return {}
    with session.engine.connect() as conn:
        rows = list(conn.execute(statement("outbox/read_by_run"), {"run_id": session.run_id}).scalars())
        if not rows:
            return {}
        people = [pco_id for pco_id, _ in conn.execute(statement("outbox/people_to_refresh"), {"ids": rows})]
        contacts = {read.landed: table for table, read in _READS.items() if table != "people"}
        read = {"people": set(people)}
        for resource, pco_id in conn.execute(statement("outbox/children_read"),
                                             {"resources": list(contacts), "people": people}):
            read.setdefault(contacts[resource], set()).add(pco_id)
    return read


def hold_unread_pco_changes(session: PushSession, updates: UpdatePlan) -> None:
    """Leave out of this push the linked records (people, emails, phones) PCO changed since they
    were last read: the plan compared the church with PCO's values as last read, so it would send
    the church's value of a field PCO has since changed, and PCO's edit would be lost with no
    conflict recorded. The next sync reads PCO's change; the next push sends what the three-way
    rule then says (a conflict is recorded where both changed the same field).

    Records the run read from PCO just before this push (`read_before_push`: a push_changes
    batch's) are PCO's current ones, loaded by the three-way rule: they are not listed again. Only
    a table with a change to some other record costs its listing (`changed_since_read`)."""
    read = read_before_push(session)
    for table, changes in updates.changes.items():
        unread = {change.pco_id for change in changes} - read.get(table, set())
        held = changed_since_read(session, table, unread)
        if held:
            updates.changes[table] = [change for change in changes if change.pco_id not in held]


def people_kind(*, delete_people: bool = False) -> PushKind:
    """The people push: creates (this module), then updates and deletes of linked people and their
    contacts (`people_updates`), executed by the engine. The updates are read first, so the safety
    brake stops the run before anything is written."""

    def plan(session: PushSession) -> Iterator[Sequence[Any]]:
        updates = plan_updates(session, delete_people=delete_people)
        if not session.dry_run:
            hold_unread_pco_changes(session, updates)
        yield from plan_batches(session)
        yield from updates.batches()

    def pusher(session: PushSession, client: PCOClient) -> Callable[[Any], None]:
        creates = _PeoplePusher(session, client).push
        return lambda unit: creates(unit) if isinstance(unit, PersonPush) else execute(session, client, unit)

    return PushKind("people", plan, pusher, needs=PEOPLE_LOADED)


PEOPLE = people_kind()


def run_people_push(engine: sa.Engine, client: PCOClient | None, *, run_id: str | None = None, dry_run: bool = False,
                workers: int = DEFAULT_WORKERS, progress: Callable[[PushReport], None] | None = None,
                delete_people: bool | None = None, confirm_large_change: bool = False) -> PushReport:
    """Push church people PCO lacks, and the church's changes to people it has (see the module
    docstring). `delete_people` (default: the PCO_PUSH_DELETES_PEOPLE setting) deletes a linked
    person deleted locally in PCO too, instead of making them inactive. `confirm_large_change`
    lets a run the safety brake would stop through. A dry run needs no client and sends nothing."""
    kind = people_kind(delete_people=delete_people_setting() if delete_people is None else delete_people)
    return run_push(kind, engine, client, run_id=run_id, dry_run=dry_run, workers=workers, progress=progress,
                    confirm_large_change=confirm_large_change)
