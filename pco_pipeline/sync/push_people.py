"""push_people: church people PCO does not have yet → PCO people, with emails, phones and address.

Who is pushed:
- local people without a `pco_id` (not merged away), unless the inbound sync found them
  ambiguous (a PCO person matched them and someone else: pushing would make a duplicate), and
  only once the inbound people sync is up to date (`push.require_people_loaded`);
- the still-unsent emails, phones and family address of people this pipeline created in PCO
  (a create interrupted before its contacts, or a contact fixed after it was refused).
People linked by the inbound sync are not pushed: PCO owns their data.

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

People are pushed by a small pool of threads sharing the client (its rate budget is shared and
thread-safe), in id order, `BATCH` at a time, so memory stays bounded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.client import PCOClient, resource_body
from pco_pipeline.pco.errors import PCOError, PCONotFound, PCOWriteOutcomeUnknown
from pco_pipeline.pco.jsonapi import Resource
from pco_pipeline.sync import push_ledger as ledger
from pco_pipeline.sync.normalize import InvalidValue, clean_text, normalize_email, normalize_phone, parse_timestamp
from pco_pipeline.sync.push import (CHANGED_BY_PCO, MISSING_IN_PCO, OUTCOME_UNKNOWN, POSSIBLE_DUPLICATE,
                                    PlannedWrite, PushAborted, PushReport, PushSession, Skip, changed_by_pco,
                                    close_failed_create, exclusive, is_aborting, quarantine_entity, refused_earlier_sql,
                                    require_people_loaded)
from pco_pipeline.sync.push_validate import (address_attributes, address_problems, email_problems, person_problems,
                                             phone_problems, printable)
from pco_pipeline.sync.quarantine import INVALID_DATA, quarantine_record

log = logging.getLogger(__name__)

BATCH = 500
DEFAULT_WORKERS = 4
PERSON_FIELDS = ("first_name", "last_name", "nickname", "middle_name", "gender", "birthdate", "child", "grade",
                 "status", "membership")
CONTACT_INCLUDES = ("emails", "phone_numbers", "addresses")
# A PCO person found by remote_id after a lost answer must have been created after the intent
# was written, give or take this much clock difference between PCO and the database.
CLOCK_SKEW = timedelta(hours=1)


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

    @property
    def label(self) -> str:
        if self.resource == "Address":
            return f"address of family {self.local_id}"
        return f"{'email' if self.resource == 'Email' else 'phone'} {self.local_id}"


@dataclass
class PersonPush:
    person: dict[str, Any]
    pco_id: str | None                       # None: the person is created
    attributes: dict[str, Any]               # the Person create's attributes
    contacts: list[ContactPush] = field(default_factory=list)
    intent: ledger.Intent | None = None      # a create whose answer a previous run lost

    @property
    def id(self) -> int:
        return self.person["id"]

    @property
    def label(self) -> str:
        name = " ".join(str(self.person.get(f) or "").strip() for f in ("first_name", "last_name")).strip()
        return f"person {self.id} ({printable(name)})" if name else f"person {self.id}"


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

_LEDGER_PERSON = ("EXISTS (SELECT 1 FROM pco_push_ledger l WHERE l.resource_type = 'Person'"
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
       (fam.id IS NOT NULL AND NOT {_ADDRESS_PUSHED}) AS address_pending
FROM people p
{_FAMILY}
WHERE p.id > :after AND p.merged_into_id IS NULL
  AND (p.pco_id IS NULL
       OR (p.is_active AND {_LEDGER_PERSON}
           AND (EXISTS (SELECT 1 FROM person_emails e WHERE e.person_id = p.id AND e.pco_id IS NULL)
                OR EXISTS (SELECT 1 FROM person_phones ph WHERE ph.person_id = p.id AND ph.pco_id IS NULL)
                OR (fam.id IS NOT NULL AND NOT {_ADDRESS_PUSHED}))))
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
# Local people an ambiguous inbound match named as candidates: PCO may already have them.
_AMBIGUOUS = """
SELECT CAST(c.value AS bigint) AS person_id, min(q.record_key) AS pco_person
FROM sync_quarantine q
CROSS JOIN LATERAL jsonb_array_elements_text(
    CASE jsonb_typeof(q.details->'candidates') WHEN 'array' THEN q.details->'candidates' ELSE '[]'::jsonb END) c
WHERE q.entity = 'people' AND q.resolved_at IS NULL AND q.reason_code = 'ambiguous_match'
GROUP BY 1
"""


def _skip(session: PushSession, resource: str, table: str, key: Any, local_id: int | None, reason: str, *,
          code: str = INVALID_DATA, record: Any = None, details: dict | None = None, refused_earlier: bool = False
          ) -> None:
    if refused_earlier:
        session.skip(resource, Skip(table, str(key), local_id, "refused_by_pco",
                                    "PCO refused it before and it has not changed since", quarantine=False))
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
                                         _match_key("Email", attributes)))
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
                                         attributes, normalize_phone(phone.number).e164))
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


def plan_batches(session: PushSession, batch: int = BATCH) -> Iterator[list[PersonPush]]:
    """The people to push, `batch` at a time, validated; skips are recorded on the session as found."""
    with session.engine.connect() as conn:
        ambiguous = {row.person_id: row.pco_person for row in conn.execute(sa.text(_AMBIGUOUS))}
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
                if row.id in ambiguous and item.intent is None:
                    _skip(session, "Person", "people", row.id, row.id,
                          f"{item.label} may already be in PCO: the inbound sync found PCO person "
                          f"{ambiguous[row.id]} ambiguous between it and others. Link the right one by hand "
                          "(set pco_id) instead of creating a duplicate.", code=POSSIBLE_DUPLICATE,
                          record=item.attributes, details={"pco_person": ambiguous[row.id]})
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

def _created_at(record: Resource) -> datetime | None:
    try:
        return parse_timestamp(record.get("created_at"), "created_at")
    except InvalidValue:
        return None


class _PeoplePusher:
    def __init__(self, session: PushSession, client: PCOClient) -> None:
        self.session, self.client = session, client
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def push(self, item: PersonPush) -> None:
        """Push one person; after an error that ends the run, queued people return untouched."""
        if self.stop.is_set():
            return
        try:
            self._push(item)
        except PCOError as exc:
            self.stop.set()
            if not is_aborting(exc):
                raise
            self.error = self.error or exc
        except BaseException:
            self.stop.set()
            raise

    def _push(self, item: PersonPush) -> None:
        pco_id, existing = item.pco_id, None
        if pco_id is None:
            pco_id, existing = self._create(item)
            if pco_id is None:
                return
        if item.contacts:
            if existing is None:
                existing = self._existing_contacts(item, pco_id)
                if existing is None:
                    return
            self._push_contacts(item, pco_id, existing)

    # -- the person

    def _find_by_remote_id(self, item: PersonPush, since: datetime) -> Resource | None:
        """The PCO person a lost create made, if PCO has it (see the module docstring)."""
        records = list(self.client.iter_records("/people/v2/people", where={"remote_id": item.id},
                                                include=list(CONTACT_INCLUDES)))
        if not records:
            return None
        with self.session.engine.connect() as conn:
            linked = set(conn.execute(sa.text("SELECT pco_id FROM people WHERE pco_id = ANY(:ids)"),
                                      {"ids": [r.id for r in records]}).scalars())
        sent = item.intent.sent if item.intent is not None else item.attributes
        candidates = []
        for record in records:
            if record.id in linked or str(record.get("remote_id")) != str(item.id):
                continue
            if any((clean_text(record.get(f)) or "").casefold() != (clean_text(sent.get(f)) or "").casefold()
                   for f in ("first_name", "last_name")):
                continue
            created = _created_at(record)
            if created is None or created < since - CLOCK_SKEW:
                continue
            candidates.append((created, len(record.id), record.id, record))
        return min(candidates, key=lambda c: c[:3])[3] if candidates else None

    def _store_person(self, item: PersonPush, ledger_id: int, resource: Resource, state: str) -> bool:
        changed = changed_by_pco(item.attributes, resource.attributes) if state == "confirmed" else {}
        detail = "; ".join(f"{k}: sent {a!r}, PCO kept {b!r}" for k, (a, b) in changed.items()) or None
        with self.session.engine.begin() as conn:
            stored = conn.execute(sa.text(
                "UPDATE people SET pco_id = :pco_id, pco_updated_at = CAST(:updated AS timestamptz), updated_at = now()"
                " WHERE id = :id AND pco_id IS NULL"),
                {"pco_id": resource.id, "updated": resource.get("updated_at"), "id": item.id}).rowcount
            ledger.confirm(conn, ledger_id, resource, state=state,
                           detail=detail if stored else "the local person was linked to another PCO person meanwhile")
            if stored:
                self.session.resolve(conn, "people", str(item.id))
        if not stored:
            self.session.failed("Person", "people", str(item.id), item.id, "linked_meanwhile",
                                f"{item.label} was linked to another PCO person while PCO person {resource.id} "
                                "was being created for it: merge the two in PCO", record=item.attributes)
            return False
        self.session.counts.add("Person", "adopted" if state == "adopted" else "created")
        if changed:
            with self.session.engine.begin() as conn:
                quarantine_record(conn, quarantine_entity("people"), str(item.id), CHANGED_BY_PCO,
                                  f"PCO stored {item.label} with different values: {detail}",
                                  pco_id=resource.id, local_id=item.id, record=item.attributes,
                                  direction="outbound")
        return True

    def _adopt(self, item: PersonPush, ledger_id: int, found: Resource) -> tuple[str | None, dict | None]:
        if not self._store_person(item, ledger_id, found, "adopted"):
            return None, None
        return found.id, {name: found.related_list(name) for name in CONTACT_INCLUDES}

    def _create(self, item: PersonPush) -> tuple[str | None, dict | None]:
        session = self.session
        if item.intent is not None:
            found = self._find_by_remote_id(item, item.intent.sent_at)
            if found is not None:
                return self._adopt(item, item.intent.id, found)
        with session.engine.begin() as conn:
            intent = ledger.record_intent(conn, run_id=session.run_id, resource_type="Person", local_table="people",
                                          local_key=str(item.id), sent=item.attributes)
        ledger_id, sent_at = intent.id, intent.sent_at
        try:
            created = self.client.post("/people/v2/people", resource_body("Person", item.attributes))
        except PCOWriteOutcomeUnknown:
            found = self._find_by_remote_id(item, sent_at)
            if found is not None:
                return self._adopt(item, ledger_id, found)
            session.failed("Person", "people", str(item.id), item.id, OUTCOME_UNKNOWN,
                           f"{item.label}: PCO's answer to the create was lost and PCO does not show the person "
                           "yet; the next push looks again before creating", record=item.attributes)
            return None, None
        except PCOError as exc:
            close_failed_create(session.engine, ledger_id, exc)
            session.refused("Person", "people", str(item.id), item.id, exc, item.attributes)
            return None, None
        if not self._store_person(item, ledger_id, created, "confirmed"):
            return None, None
        return created.id, {name: [] for name in CONTACT_INCLUDES}

    # -- contacts

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
        session = self.session
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
                try:
                    created = self.client.post(f"/people/v2/people/{pco_id}/{contact.relationship}",
                                               resource_body(contact.resource, contact.attributes))
                except PCOWriteOutcomeUnknown:
                    session.failed(contact.resource, contact.table, contact.key, contact.local_id, OUTCOME_UNKNOWN,
                                   f"{item.label}: PCO's answer to creating this {contact.resource} was lost; the "
                                   "next push compares with PCO before sending it again", record=contact.attributes)
                    continue
                except PCOError as exc:
                    if is_aborting(exc):
                        raise
                    session.refused(contact.resource, contact.table, contact.key, contact.local_id, exc,
                                    contact.attributes)
                    continue
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
        """Store the PCO ids (and PCO's location, primary flag, E.164) on the local contacts, in one transaction."""
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
                ledger.record_write(conn, run_id=session.run_id, resource_type=contact.resource, action="create",
                                    local_table=contact.table, local_key=contact.key, sent=contact.attributes,
                                    resource=resource, parent_pco_id=pco_id, state=state)
                session.resolve(conn, contact.table, contact.key)
        for contact, _, state in done:
            session.counts.add(contact.resource, "adopted" if state == "adopted" else "created")


def push_people(engine: sa.Engine, client: PCOClient | None, *, run_id: str | None = None, dry_run: bool = False,
                workers: int = DEFAULT_WORKERS, progress: Callable[[PushReport], None] | None = None) -> PushReport:
    """Push church people PCO lacks (see the module docstring). A dry run needs no client and sends nothing."""
    session = PushSession("people", engine, client, run_id=run_id, dry_run=dry_run)
    with exclusive(engine, "people"):
        with engine.connect() as conn:
            require_people_loaded(conn)
        if dry_run:
            for _ in plan_batches(session):
                pass
            return session.report
        if client is None:
            raise ValueError("a push that sends needs a PCO client")
        pusher = _PeoplePusher(session, client)
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="push_people") as pool:
            # The next batch is planned while the workers push this one (two batches at most in memory).
            in_flight: list = []
            try:
                for items in plan_batches(session):
                    queued = [pool.submit(pusher.push, item) for item in items]
                    for future in in_flight:
                        future.result()
                    in_flight = queued
                    if progress is not None:
                        progress(session.report)
                    if pusher.stop.is_set():
                        break
                for future in in_flight:
                    future.result()
            except BaseException:
                pusher.stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        if pusher.error is not None:
            raise PushAborted(f"push_people stopped: {pusher.error}") from pusher.error
    return session.report
