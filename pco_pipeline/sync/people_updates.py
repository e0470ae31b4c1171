"""What the people push sends about people PCO already has: the church's changes to linked people
and their emails and phones, and the church's deletions.

Planning follows the three-way rule (`church_changes`, sync/merge.py): only the fields the
church changed since the two sides last agreed (the base), or whose conflict its policy or staff
gave to the church, are sent; a field PCO changed and the church did not is the load's to take,
never pushed back (even before that load ran). The conflicts the rule decides are recorded first,
and the safety brake (`safety_brake`) weighs the changes before anything is written. Each change
becomes a planned write, which the push engine executes (`push_engine.update_recorded` /
`delete_recorded`); PCO's answer moves the base of the fields it now holds (`confirm_sent`):
- a linked person the church changed → `PATCH /people/v2/people/{id}` with only those fields
  (`is_active = false` locally, while PCO's record is active → `status: inactive`);
- a linked person deleted locally (`church_deletions`) → `status: inactive` in PCO, or a
  `DELETE` when `delete_people` is set (`PCO_PUSH_DELETES_PEOPLE`): a delete erases the person's
  history in every PCO product, so it is never the default;
- a linked email or phone whose address / number, location or primary flag the church changed → `PATCH
  /people/v2/emails/{id}` (or `phone_numbers`) with those fields;
- a linked email or phone deleted locally → `DELETE` it in PCO.
A field the push would send but PCO would blank or refuse (`push_validate`) is quarantined on its
own (key `<id>#<field>`) and the record's other fields still go; so is a field PCO refused
before that the church has not changed since.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.client import Resource
from pco_pipeline.sync import push_ledger as ledger
from pco_pipeline.sync.church_changes import ChurchChange, church_changes, classify_changes, confirm_sent
from pco_pipeline.sync.conflicts import record_conflicts
from pco_pipeline.sync.merge import DELETED
from pco_pipeline.sync.normalize import clean_text, normalize_person
from pco_pipeline.sync.policies import load_policies
from pco_pipeline.sync.push import (FieldGate, PlannedWrite, PushSession, field_key, latest_write_sql, pco_view,
                                    quarantine_entity)
from pco_pipeline.sync.push_engine import RecordedDelete, RecordedUpdate
from pco_pipeline.sync.push_validate import email_problems, person_field_problems, phone_problems, printable
from pco_pipeline.sync.safety_brake import check_share
from pco_pipeline.sync.two_way_entities import ENTITIES

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


# --- planning ------------------------------------------------------------------------------------------

# Linked people with PCO's values as last known (landed, or our later write's answer).
_PERSON_WITH_PCO = f"""
SELECT p.id, p.pco_id, p.first_name, p.last_name, p.nickname, p.middle_name, p.gender, p.birthdate, p.child,
       p.grade, p.status, p.membership, p.is_active, p.updated_at, l.normalized AS landed,
       l.pco_updated_at AS landed_at, w.confirmed AS written, w.pco_updated_at AS written_at
FROM people p
JOIN pco_landing l ON l.resource = 'people/people' AND l.pco_id = p.pco_id AND l.removed_at IS NULL
{latest_write_sql('Person', 'p.pco_id')}
"""
# Linked people the church made inactive (`is_active`, which the three-way fields do not carry)
# whose PCO record is not inactive yet.
_DEACTIVATED = _PERSON_WITH_PCO + """
WHERE NOT p.is_active AND p.merged_into_id IS NULL
  AND coalesce(coalesce(w.confirmed->>'status', l.normalized->>'status'), '') <> 'inactive'
"""
# Linked emails and phones of linked, active people.
_LINKED_CONTACTS = """
SELECT c.id, c.person_id, c.pco_id, c.{text} AS text, c.location, c.is_primary, c.updated_at,
       l.normalized AS landed, btrim(p.first_name || ' ' || p.last_name) AS person_name, p.pco_id AS person_pco_id
FROM {table} c
JOIN people p ON p.id = c.person_id AND p.pco_id IS NOT NULL AND p.is_active
LEFT JOIN pco_landing l ON l.resource = :resource AND l.pco_id = c.pco_id
WHERE c.pco_id = ANY(:pco_ids)
"""
# Linked records the church deleted whose PCO record is still there (as last landed).
_DELETED = """
SELECT d.local_table, d.local_id, d.pco_id, d.deleted_at, l.normalized AS landed, l.parent_pco_id
FROM church_deletions d
JOIN pco_landing l ON l.resource = :resource AND l.pco_id = d.pco_id AND l.removed_at IS NULL
WHERE d.local_table = :table AND d.pushed_at IS NULL AND d.pco_id = ANY(:pco_ids)
ORDER BY d.deleted_at, d.pco_id
"""
_LINKED_COUNT = "SELECT count(*) FROM {table} WHERE pco_id IS NOT NULL"

CONTACTS = {  # local table → (PCO type, landed resource, PCO collection, local text column)
    "person_emails": ("Email", "people/emails", "emails", "address"),
    "person_phones": ("PhoneNumber", "people/phone_numbers", "phone_numbers", "number"),
}
# A contact's two-way field → PCO's attribute (the text column keeps its name).
_CONTACT_ATTRIBUTES = {"location": "location", "is_primary": "primary", "address": "address", "number": "number"}


def contact_value(field: str, value: Any) -> Any:
    """An email's or phone's field as it is sent: trimmed text (blank → None), a bool primary flag."""
    return bool(value) if field == "is_primary" else clean_text(value)


@dataclass
class UpdatePlan:
    """Reads the church's changes once (`prepare`, before anything is written: the safety brake
    weighs them), then turns them into the engine's units."""
    session: PushSession
    delete_people: bool
    changes: dict[str, list[ChurchChange]] = dataclass_field(default_factory=dict)
    deactivated: list[Any] = dataclass_field(default_factory=list)

    def batches(self) -> Iterator[list[Unit]]:
        """The units, in batches: linked people, then deletions and contacts."""
        self.settle_agreed_fields()
        yield from self.people()
        tail: list[Unit] = self.deleted_people()
        for table in CONTACTS:
            tail += self.contacts(table) + self.deleted_contacts(table)
        if tail:
            yield tail

    def add(self, unit: Unit, fields: Sequence[tuple[str, Any]]) -> Unit:
        action = "update" if isinstance(unit, RecordedUpdate) else "delete"
        self.session.report.plan.add(PlannedWrite(action, unit.resource, f"{unit.label}, PCO {unit.pco_id}",
                                                  tuple(fields)))
        return unit

    def prepare(self) -> None:
        """Record the conflicts the three-way rule decides (a real run), read every change the
        church has for PCO, and stop here if the safety brake engages."""
        policies = load_policies()
        with self.session.engine.begin() as conn:
            for table in ("people", *CONTACTS):
                entity, chosen = ENTITIES[table], policies.for_entity(table)
                # A dry run compares as a real run would, and leaves the watermark where it was.
                classified = classify_changes(conn, entity, chosen, advance=not self.session.dry_run)
                self.session.report.compared(table, full=classified.full, drifted=classified.drifted)
                if not self.session.dry_run:
                    record_conflicts(conn, entity, chosen, classified=classified.table)
                self.changes[table] = list(church_changes(conn, entity, chosen, classified=classified.table))
            self.deactivated = list(conn.execute(sa.text(_DEACTIVATED)).all())
            deactivated = {row.pco_id for row in self.deactivated}
            planned = {table: {change.pco_id for change in changes} | (deactivated if table == "people" else set())
                       for table, changes in self.changes.items()}
            # Counting the linked records reads a whole table: only where something is planned
            # (an idle run's planning then costs what changed, not what exists).
            linked = {table: conn.execute(sa.text(_LINKED_COUNT.format(table=table))).scalar_one()
                      for table, records in planned.items() if records}
        if self.session.dry_run:
            return
        for table, records in planned.items():
            if records:
                check_share(len(records), linked[table], _BRAKE_NOUNS[table],
                            confirmed=self.session.confirm_large_change)

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
                for name in PERSON_UPDATE_FIELDS:
                    if name not in changed and field_key(str(row.id), name) in keys:
                        self.session.resolve(conn, "people", field_key(str(row.id), name))

    def people(self) -> Iterator[list[Unit]]:
        gate = FieldGate(self.session, "people")
        by_pco_id = {change.pco_id: change for change in self.changes["people"] if not change.deleted}
        deactivated = {row.pco_id: row for row in self.deactivated}
        pco_ids = sorted(by_pco_id.keys() | deactivated.keys())
        for start in range(0, len(pco_ids), BATCH):
            batch = pco_ids[start:start + BATCH]
            with self.session.engine.connect() as conn:
                rows = conn.execute(sa.text(_PERSON_WITH_PCO + " WHERE p.pco_id = ANY(:ids) AND p.merged_into_id"
                                            " IS NULL ORDER BY p.id"), {"ids": batch}).all()
                intents = ledger.open_intents(conn, "Person", "people", [str(r.id) for r in rows], action="update")
            units: list[Unit] = []
            for row in rows:
                change = by_pco_id.get(row.pco_id)
                values = {name: person_value(name, value) for name, value in (change.values if change else {}).items()}
                if "status" in values:
                    values["status"] = (values["status"] or "active").lower()
                if row.pco_id in deactivated:
                    values["status"] = "inactive"
                label = _person_label(row.id, row.first_name, row.last_name)
                values = gate.sendable("Person", str(row.id), row.id, label, values,
                                       person_field_problems(dict(row._mapping), today=self.session.today),
                                       row.updated_at)
                if not values:
                    continue
                # Nothing is stored on the church row: it did not change (and its updated_at, which a
                # trigger moves on any write, is when the church last edited it). The base moves.
                landed = pco_view(row, normalize_person)
                update = RecordedUpdate("Person", "people", str(row.id), row.id, label, row.pco_id,
                                        f"/people/v2/people/{row.pco_id}", values, intent=intents.get(str(row.id)),
                                        store=_confirm(change, {name: name for name in values}, person_value))
                units.append(self.add(update, [(f, f"{landed.get(f)!r} → {v!r}") for f, v in values.items()]))
            if units:
                yield units

    def deleted_people(self) -> list[Unit]:
        deleted = {change.pco_id: change for change in self.changes["people"] if change.deleted}
        units: list[Unit] = []
        with self.session.engine.connect() as conn:
            rows = conn.execute(sa.text(_DELETED), {"resource": "people/people", "table": "people",
                                                    "pco_ids": list(deleted)}).all()
        for row in rows:
            landed = row.landed or {}
            label = f"person {row.local_id} ({printable(_full_name(landed))}, deleted in the church)"
            path = f"/people/v2/people/{row.pco_id}"
            gone = _mark_gone(deleted[row.pco_id], "people")
            if self.delete_people:
                units.append(self.add(RecordedDelete("Person", "people", str(row.local_id), row.local_id, label,
                                                     row.pco_id, path, store=gone),
                                      [("deleted locally", row.deleted_at)]))
            elif landed.get("status") != "inactive":
                units.append(self.add(RecordedUpdate("Person", "people", str(row.local_id), row.local_id, label,
                                                     row.pco_id, path, {"status": "inactive"},
                                                     store=lambda conn, resource, gone=gone: gone(conn, "inactivated")),
                                      [("status", f"{landed.get('status')!r} → 'inactive' (deleted locally)")]))
        return units

    # --- emails and phones ---

    def contacts(self, table: str) -> list[Unit]:
        resource, landed_resource, collection, text = CONTACTS[table]
        by_pco_id = {change.pco_id: change for change in self.changes[table] if not change.deleted}
        gate = FieldGate(self.session, table)
        with self.session.engine.connect() as conn:
            # The table and column names come from CONTACTS, never input.
            rows = conn.execute(sa.text(_LINKED_CONTACTS.format(table=table, text=text)),
                                {"resource": landed_resource, "pco_ids": list(by_pco_id)}).all()
            intents = ledger.open_intents(conn, resource, table, [str(r.id) for r in rows], action="update")
        units: list[Unit] = []
        for row in sorted(rows, key=lambda row: row.id):
            change = by_pco_id[row.pco_id]
            values = {_CONTACT_ATTRIBUTES[name]: contact_value(name, value) for name, value in change.values.items()}
            noun = "email" if resource == "Email" else "phone"
            label = f"{noun} {row.id} of person {row.person_id} ({printable(row.person_name)})"
            found = (email_problems(row.text, row.location) if resource == "Email"
                     else phone_problems(row.text, None, row.location))
            problems = {text: found} if found else {}
            values = gate.sendable(resource, str(row.id), row.id, label, values, problems, row.updated_at)
            if not values:
                continue
            attributes = {attribute: name for name, attribute in _CONTACT_ATTRIBUTES.items() if name in change.values}
            update = RecordedUpdate(resource, table, str(row.id), row.id, label, row.pco_id,
                                    f"/people/v2/{collection}/{row.pco_id}", values, intent=intents.get(str(row.id)),
                                    parent_pco_id=row.person_pco_id, store=_confirm(change, attributes, contact_value))
            units.append(self.add(update, list(values.items())))
        return units

    def deleted_contacts(self, table: str) -> list[Unit]:
        resource, landed_resource, collection, text = CONTACTS[table]
        deleted = {change.pco_id: change for change in self.changes[table] if change.deleted}
        with self.session.engine.connect() as conn:
            rows = conn.execute(sa.text(_DELETED), {"resource": landed_resource, "table": table,
                                                    "pco_ids": list(deleted)}).all()
        noun = "email" if resource == "Email" else "phone"
        return [self.add(RecordedDelete(resource, table, str(row.local_id), row.local_id,
                                        f"{noun} {row.local_id} ({printable((row.landed or {}).get(text))}, "
                                        "deleted in the church)", row.pco_id, f"/people/v2/{collection}/{row.pco_id}",
                                        store=_mark_gone(deleted[row.pco_id], table), parent_pco_id=row.parent_pco_id),
                         [(text, (row.landed or {}).get(text))]) for row in rows]


_BRAKE_NOUNS = {"people": "people in PCO", "person_emails": "emails in PCO", "person_phones": "phones in PCO"}


def plan_updates(session: PushSession, *, delete_people: bool = False) -> UpdatePlan:
    """The people push's updates and deletes (see the module docstring), read now: call it before
    the push writes anything. Raises `SafetyBrakeEngaged` when they are too many and the session
    was not confirmed (`confirm_large_change`). Its `batches()` are the engine's units."""
    plan = UpdatePlan(session, delete_people)
    plan.prepare()
    return plan


# --- storing outcomes -----------------------------------------------------------------------------------

def _full_name(values: Mapping[str, Any]) -> str:
    return " ".join(str(values.get(f) or "").strip() for f in ("first_name", "last_name")).strip()


def _person_label(person_id: int, first: Any, last: Any) -> str:
    name = _full_name({"first_name": first, "last_name": last})
    return f"person {person_id} ({printable(name)})" if name else f"person {person_id}"


def _confirm(change: ChurchChange | None, attributes: Mapping[str, str],
             sendable: Callable[[str, Any], Any]) -> Callable[[sa.Connection, Resource], None]:
    """Once PCO answered a PATCH: the base of each two-way field (`attributes`: field → PCO's
    attribute) PCO now holds as the church does moves to it (`church_changes.confirm_sent`)."""
    def store(conn: sa.Connection, resource: Resource) -> None:
        if change is None:
            return
        held = {name: change.values[name] for name, attribute in attributes.items()
                if name in change.values and attribute in resource.attributes
                and sendable(name, resource.attributes[attribute]) == sendable(name, change.values[name])}
        confirm_sent(conn, change.entity, change, held)
    return store


def _mark_gone(change: ChurchChange, table: str) -> Callable[[sa.Connection, str], None]:
    """Once PCO deleted (or inactivated) a record the church deleted: the deletion is pushed and
    the record's base is dropped (it is gone from the two-way comparison)."""
    def store(conn: sa.Connection, outcome: str) -> None:
        conn.execute(sa.text("UPDATE church_deletions SET pushed_at = clock_timestamp(), pushed_as = :outcome"
                             " WHERE local_table = :table AND pco_id = :pco_id"),
                     {"outcome": outcome, "table": table, "pco_id": change.pco_id})
        confirm_sent(conn, change.entity, change, DELETED)
    return store
