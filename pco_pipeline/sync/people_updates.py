"""What the people push sends about people PCO already has: the church's changes to linked people
and their emails and phones, and the church's deletions.

Planning (replaceable: the three-way merge will decide these instead) compares each linked
record with PCO's record as the inbound sync last landed it; a difference is a church change,
because the inbound load writes PCO's changes into the church first. Each difference becomes a
planned write, which the push engine executes (`push_engine.update_recorded`/`delete_recorded`):
- a linked person whose fields differ → `PATCH /people/v2/people/{id}` with only those fields
  (`is_active = false` locally → `status: inactive`);
- a linked person deleted locally (`church_deletions`) → `status: inactive` in PCO, or a
  `DELETE` when `delete_people` is set (`PCO_PUSH_DELETES_PEOPLE`): a delete erases the person's
  history in every PCO product, so it is never the default;
- a linked email or phone whose address / number, location or primary flag differ → `PATCH
  /people/v2/emails/{id}` (or `phone_numbers`) with those fields;
- a linked email or phone deleted locally → `DELETE` it in PCO.
A field the push would send but PCO would blank or refuse (`push_validate`) is quarantined on its
own (key `<id>#<field>`) and the record's other fields still go; so is a field PCO refused
before that the church has not changed since.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from pco_pipeline.sync import push_ledger as ledger
from pco_pipeline.sync.normalize import clean_text, normalize_email_record, normalize_person, normalize_phone_record
from pco_pipeline.sync.push import (FieldGate, PlannedWrite, PushSession, field_key, latest_write_sql, pco_view,
                                    quarantine_entity)
from pco_pipeline.sync.push_engine import RecordedDelete, RecordedUpdate
from pco_pipeline.sync.push_validate import email_problems, person_field_problems, phone_problems, printable

DELETE_PEOPLE_SETTING = "PCO_PUSH_DELETES_PEOPLE"
PERSON_UPDATE_FIELDS = ("first_name", "last_name", "nickname", "middle_name", "gender", "birthdate", "child",
                        "grade", "status", "membership")
BATCH = 500

Unit = RecordedUpdate | RecordedDelete


def delete_people_setting(environ: Mapping[str, str] | None = None) -> bool:
    """Whether a linked person deleted locally is deleted in PCO (else made inactive)."""
    raw = (os.environ if environ is None else environ).get(DELETE_PEOPLE_SETTING, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{DELETE_PEOPLE_SETTING} must be true or false, not {raw!r}")


# --- comparing church and PCO values ---------------------------------------------------------------

# PCO's default gender options and the spellings it takes for them (it answers with the option).
_GENDERS = {"m": "Male", "male": "Male", "f": "Female", "female": "Female"}


def person_value(field: str, value: Any) -> Any:
    """A person field as it is compared and sent: trimmed text (blank → None), ISO date, bool, int,
    and the gender as PCO stores it (so "M" locally and "Male" in PCO are the same value)."""
    if field == "gender":
        text = clean_text(value)
        return _GENDERS.get(text.lower(), text) if text else None
    if field == "birthdate":
        return value.isoformat() if isinstance(value, date) else clean_text(value)
    if field == "child":
        return bool(value) if value is not None else False
    if field == "grade":
        return None if value is None else int(value)
    return clean_text(value)


def person_changes(person: Mapping[str, Any], landed: Mapping[str, Any]) -> dict[str, Any]:
    """The person fields whose church value differs from PCO's landed one: field → value to send.
    A church person made inactive (`is_active = false`) sends `status: inactive`."""
    church = dict(person)
    if not church.get("is_active", True):
        church["status"] = "inactive"
    changes = {}
    for field in PERSON_UPDATE_FIELDS:
        ours = person_value(field, church.get(field))
        if field == "status":
            ours = (ours or "active").lower()
        if ours != person_value(field, landed.get(field)):
            changes[field] = ours
    return changes


def contact_changes(resource: str, contact: Mapping[str, Any], landed: Mapping[str, Any]) -> dict[str, Any]:
    """An email's or phone's changed attributes (PCO's names): address | number, location, primary."""
    text = "address" if resource == "Email" else "number"
    changes = {}
    if clean_text(contact[text]) != clean_text(landed.get(text)):
        changes[text] = clean_text(contact[text])
    if clean_text(contact["location"]) != clean_text(landed.get("location")):
        changes["location"] = clean_text(contact["location"])
    if bool(contact["is_primary"]) != bool(landed.get("is_primary")):
        changes["primary"] = bool(contact["is_primary"])
    return changes


# --- planning ------------------------------------------------------------------------------------------

# A linked person with PCO's values as last known (landed, or our later write's answer).
_PERSON_WITH_PCO = f"""
SELECT p.id, p.pco_id, p.first_name, p.last_name, p.nickname, p.middle_name, p.gender, p.birthdate, p.child,
       p.grade, p.status, p.membership, p.is_active, p.updated_at, l.normalized AS landed,
       l.pco_updated_at AS landed_at, w.confirmed AS written, w.pco_updated_at AS written_at
FROM people p
JOIN pco_landing l ON l.resource = 'people/people' AND l.pco_id = p.pco_id AND l.removed_at IS NULL
{latest_write_sql('Person', 'p.pco_id')}
"""
_LINKED_PEOPLE = _PERSON_WITH_PCO + """
WHERE p.id > :after AND p.merged_into_id IS NULL
  AND ((btrim(p.first_name), btrim(p.last_name), nullif(btrim(p.nickname), ''), nullif(btrim(p.middle_name), ''),
        nullif(btrim(p.gender), ''), CAST(p.birthdate AS text), p.child, CAST(p.grade AS int),
        CASE WHEN p.is_active THEN p.status ELSE 'inactive' END, nullif(btrim(p.membership), ''))
       IS DISTINCT FROM
       (l.normalized->>'first_name', l.normalized->>'last_name', l.normalized->>'nickname',
        l.normalized->>'middle_name', l.normalized->>'gender', l.normalized->>'birthdate',
        CAST(l.normalized->>'child' AS boolean), CAST(l.normalized->>'grade' AS int), l.normalized->>'status',
        l.normalized->>'membership')
       OR w.pco_updated_at > l.pco_updated_at)
ORDER BY p.id
LIMIT :limit
"""
# Emails and phones of linked, active people, whose values differ from PCO's landed ones.
_LINKED_CONTACTS = """
SELECT c.id, c.person_id, c.pco_id, c.{text} AS text, c.location, c.is_primary, c.updated_at,
       l.normalized AS landed, l.pco_updated_at AS landed_at, w.confirmed AS written, w.pco_updated_at AS written_at,
       btrim(p.first_name || ' ' || p.last_name) AS person_name, p.pco_id AS person_pco_id
FROM {table} c
JOIN people p ON p.id = c.person_id AND p.pco_id IS NOT NULL AND p.is_active
JOIN pco_landing l ON l.resource = :resource AND l.pco_id = c.pco_id AND l.removed_at IS NULL
{written}
WHERE (nullif(btrim(c.{text}), ''), nullif(btrim(c.location), ''), c.is_primary)
      IS DISTINCT FROM (l.normalized->>'{text}', l.normalized->>'location', CAST(l.normalized->>'is_primary' AS boolean))
   OR w.pco_updated_at > l.pco_updated_at
ORDER BY c.id
"""
# Linked records the church deleted whose PCO record is still there (as last landed).
_DELETED = """
SELECT d.local_table, d.local_id, d.pco_id, d.deleted_at, l.normalized AS landed, l.parent_pco_id
FROM church_deletions d
JOIN pco_landing l ON l.resource = :resource AND l.pco_id = d.pco_id AND l.removed_at IS NULL
WHERE d.local_table = :table AND d.pushed_at IS NULL
ORDER BY d.deleted_at, d.pco_id
"""

CONTACTS = {  # local table → (PCO type, landed resource, PCO collection, local text column)
    "person_emails": ("Email", "people/emails", "emails", "address"),
    "person_phones": ("PhoneNumber", "people/phone_numbers", "phone_numbers", "number"),
}
NORMALIZERS = {"Email": normalize_email_record, "PhoneNumber": normalize_phone_record}


@dataclass
class _Planner:
    session: PushSession
    delete_people: bool

    def add(self, unit: Unit, fields: Sequence[tuple[str, Any]]) -> Unit:
        action = "update" if isinstance(unit, RecordedUpdate) else "delete"
        self.session.report.plan.add(PlannedWrite(action, unit.resource, f"{unit.label}, PCO {unit.pco_id}",
                                                  tuple(fields)))
        return unit

    # --- people ---

    def settle_agreed_fields(self) -> None:
        """Close the quarantine rows of person fields the church has since put back to PCO's value
        (nothing is left to send for them). A real run only: a dry run writes nothing."""
        if self.session.dry_run:
            return
        with self.session.engine.begin() as conn:
            keys = set(conn.execute(sa.text(
                "SELECT record_key FROM sync_quarantine WHERE entity = :entity AND resolved_at IS NULL"
                " AND record_key ~ '^[0-9]+#'"), {"entity": quarantine_entity("people")}).scalars())
            if not keys:
                return
            ids = sorted({int(key.split("#", 1)[0]) for key in keys})
            rows = conn.execute(sa.text(_PERSON_WITH_PCO + " WHERE p.id = ANY(:ids)"), {"ids": ids}).all()
            for row in rows:
                changed = person_changes(dict(row._mapping), pco_view(row, normalize_person))
                for field in PERSON_UPDATE_FIELDS:
                    if field not in changed and field_key(str(row.id), field) in keys:
                        self.session.resolve(conn, "people", field_key(str(row.id), field))

    def people(self) -> Iterator[list[Unit]]:
        gate = FieldGate(self.session, "people")
        after = 0
        while True:
            with self.session.engine.connect() as conn:
                rows = conn.execute(sa.text(_LINKED_PEOPLE), {"after": after, "limit": BATCH}).all()
                if not rows:
                    return
                intents = ledger.open_intents(conn, "Person", "people", [str(r.id) for r in rows], action="update")
            after = rows[-1].id
            units: list[Unit] = []
            for row in rows:
                person = dict(row._mapping)
                landed = pco_view(row, normalize_person)
                changes = person_changes(person, landed)
                if not changes:
                    continue
                label = _person_label(row.id, row.first_name, row.last_name)
                changes = gate.sendable("Person", str(row.id), row.id, label, changes,
                                        person_field_problems(person, today=self.session.today), row.updated_at)
                if not changes:
                    continue
                # Nothing is stored on the church row: it did not change (and its updated_at, which a
                # trigger moves on any write, is when the church last edited it).
                update = RecordedUpdate("Person", "people", str(row.id), row.id, label, row.pco_id,
                                        f"/people/v2/people/{row.pco_id}", changes, intent=intents.get(str(row.id)))
                units.append(self.add(update, [(f, f"{landed.get(f)!r} → {v!r}") for f, v in changes.items()]))
            if units:
                yield units

    def deleted_people(self) -> list[Unit]:
        units: list[Unit] = []
        with self.session.engine.connect() as conn:
            rows = conn.execute(sa.text(_DELETED), {"resource": "people/people", "table": "people"}).all()
        for row in rows:
            landed = row.landed or {}
            label = f"person {row.local_id} ({printable(_full_name(landed))}, deleted in the church)"
            path = f"/people/v2/people/{row.pco_id}"
            if self.delete_people:
                units.append(self.add(RecordedDelete("Person", "people", str(row.local_id), row.local_id, label,
                                                     row.pco_id, path, store=_mark_pushed("people", row.pco_id)),
                                      [("deleted locally", row.deleted_at)]))
            elif landed.get("status") != "inactive":
                units.append(self.add(RecordedUpdate("Person", "people", str(row.local_id), row.local_id, label,
                                                     row.pco_id, path, {"status": "inactive"},
                                                     store=_mark_inactivated(row.pco_id)),
                                      [("status", f"{landed.get('status')!r} → 'inactive' (deleted locally)")]))
        return units

    # --- emails and phones ---

    def contacts(self, table: str) -> list[Unit]:
        resource, landed_resource, collection, text = CONTACTS[table]
        gate = FieldGate(self.session, table)
        with self.session.engine.connect() as conn:
            # The table and column names come from CONTACTS, never input.
            written = latest_write_sql(resource, "c.pco_id")
            rows = conn.execute(sa.text(_LINKED_CONTACTS.format(table=table, text=text, written=written)),
                                {"resource": landed_resource}).all()
            intents = ledger.open_intents(conn, resource, table, [str(r.id) for r in rows], action="update")
        units: list[Unit] = []
        for row in rows:
            contact = {text: row.text, "location": row.location, "is_primary": row.is_primary}
            changes = contact_changes(resource, contact, pco_view(row, NORMALIZERS[resource]))
            noun = "email" if resource == "Email" else "phone"
            label = f"{noun} {row.id} of person {row.person_id} ({printable(row.person_name)})"
            found = (email_problems(row.text, row.location) if resource == "Email"
                     else phone_problems(row.text, None, row.location))
            problems = {text: found} if found else {}
            changes = gate.sendable(resource, str(row.id), row.id, label, changes, problems, row.updated_at)
            if not changes:
                continue
            update = RecordedUpdate(resource, table, str(row.id), row.id, label, row.pco_id,
                                    f"/people/v2/{collection}/{row.pco_id}", changes, intent=intents.get(str(row.id)),
                                    parent_pco_id=row.person_pco_id)
            units.append(self.add(update, list(changes.items())))
        return units

    def deleted_contacts(self, table: str) -> list[Unit]:
        resource, landed_resource, collection, text = CONTACTS[table]
        with self.session.engine.connect() as conn:
            rows = conn.execute(sa.text(_DELETED), {"resource": landed_resource, "table": table}).all()
        noun = "email" if resource == "Email" else "phone"
        return [self.add(RecordedDelete(resource, table, str(row.local_id), row.local_id,
                                        f"{noun} {row.local_id} ({printable((row.landed or {}).get(text))}, "
                                        "deleted in the church)", row.pco_id, f"/people/v2/{collection}/{row.pco_id}",
                                        store=_mark_pushed(table, row.pco_id), parent_pco_id=row.parent_pco_id),
                         [(text, (row.landed or {}).get(text))]) for row in rows]


def plan_updates(session: PushSession, *, delete_people: bool = False) -> Iterator[list[Unit]]:
    """The people push's updates and deletes, in batches (see the module docstring)."""
    planner = _Planner(session, delete_people)
    planner.settle_agreed_fields()
    yield from planner.people()
    tail: list[Unit] = planner.deleted_people()
    for table in CONTACTS:
        tail += planner.contacts(table) + planner.deleted_contacts(table)
    if tail:
        yield tail


# --- storing outcomes -----------------------------------------------------------------------------------

def _full_name(values: Mapping[str, Any]) -> str:
    return " ".join(str(values.get(f) or "").strip() for f in ("first_name", "last_name")).strip()


def _person_label(person_id: int, first: Any, last: Any) -> str:
    name = _full_name({"first_name": first, "last_name": last})
    return f"person {person_id} ({printable(name)})" if name else f"person {person_id}"


def _mark_pushed(table: str, pco_id: str):
    def store(conn: sa.Connection, outcome: str) -> None:
        conn.execute(sa.text("UPDATE church_deletions SET pushed_at = clock_timestamp(), pushed_as = :outcome"
                             " WHERE local_table = :table AND pco_id = :pco_id"),
                     {"outcome": outcome, "table": table, "pco_id": pco_id})
    return store


def _mark_inactivated(pco_id: str):
    mark = _mark_pushed("people", pco_id)
    return lambda conn, resource: mark(conn, "inactivated")
