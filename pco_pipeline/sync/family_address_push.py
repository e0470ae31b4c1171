"""A family's address change reaches PCO (issue 16: "the family's address ↔ the PCO addresses of
the household's members"). In PCO an address belongs to a person, so a church family's new
address is a `PATCH /people/v2/addresses/{id}` of each address the family's linked members have
in PCO, with only the address fields the church changed.

Which fields changed is the three-way rule's answer for the `families` entity (`church_changes`):
a field the church changed since the two sides last agreed, or a conflict given to the church. An
address PCO changed is the load's to take, never pushed back. After PCO confirms a member's
address, the family's base moves for the fields PCO now holds (`confirm_sent`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from pco_pipeline.pco.client import Resource
from pco_pipeline.sync import push_ledger as ledger
from pco_pipeline.sync.church_changes import ChurchChange, confirm_sent
from pco_pipeline.sync.normalize import clean_text
from pco_pipeline.sync.push import FieldGate, PlannedWrite, PushSession
from pco_pipeline.sync.push_engine import RecordedUpdate
from pco_pipeline.sync.push_validate import ADDRESS_FIELDS, address_attributes, address_problems, printable

# Each PCO address of a linked family's linked, active members (as last landed).
_MEMBER_ADDRESSES = """
SELECT f.id AS family_id, f.pco_id AS family_pco_id, f.name AS family_name, f.updated_at, f.street_line_1,
       f.street_line_2, f.city, f.state, f.zip, f.country_code, p.id AS person_id,
       p.pco_id AS person_pco_id, btrim(p.first_name || ' ' || p.last_name) AS person_name,
       a.pco_id AS address_pco_id
FROM families f
JOIN family_members fm ON fm.family_id = f.id
JOIN people p ON p.id = fm.person_id AND p.pco_id IS NOT NULL AND p.is_active
JOIN pco_landing a ON a.resource = 'people/addresses' AND a.parent_pco_id = p.pco_id AND a.removed_at IS NULL
WHERE f.pco_id = ANY(:pco_ids)
ORDER BY f.id, p.id, a.pco_id
"""


def plan_address_changes(session: PushSession, family_changes: Sequence[ChurchChange]) -> list[RecordedUpdate]:
    """One PATCH per PCO address of the members of each family whose address the church changed
    (`family_changes`: what `church_changes` gave the families push for the `families` entity)."""
    changes = {change.pco_id: change for change in family_changes
               if not change.deleted and set(change.values) & set(ADDRESS_FIELDS)}
    if not changes:
        return []
    with session.engine.connect() as conn:
        rows = conn.execute(sa.text(_MEMBER_ADDRESSES), {"pco_ids": list(changes)}).all()
        intents = ledger.open_intents(conn, "Address", "family_addresses",
                                      [_key(row) for row in rows], action="update")
    gate = FieldGate(session, "family_addresses")
    units: list[RecordedUpdate] = []
    for row in rows:
        change = changes[row.family_pco_id]
        values = {name: clean_text(value) for name, value in change.values.items() if name in ADDRESS_FIELDS}
        label = (f"address of {printable(row.person_name)} (person {row.person_id}) in family {row.family_id} "
                 f"({printable(row.family_name)})")
        # The whole address must be one PCO takes, not only the fields that changed.
        found = address_problems(address_attributes(row._asdict()) or {})
        problems = {name: found for name in values} if found else {}
        sendable = gate.sendable("Address", _key(row), row.family_id, label, values, problems, row.updated_at)
        if not sendable:
            continue
        units.append(RecordedUpdate("Address", "family_addresses", _key(row), row.family_id, label,
                                    row.address_pco_id, f"/people/v2/addresses/{row.address_pco_id}", sendable,
                                    intent=intents.get(_key(row)), parent_pco_id=row.person_pco_id,
                                    store=_confirm(change)))
        session.report.plan.add(PlannedWrite("update", "Address", f"{label}, PCO {row.address_pco_id}",
                                             tuple(sendable.items())))
    return units


def _key(row: Any) -> str:
    """The ledger and quarantine key of one member's address: `<family>:<PCO address>`."""
    return f"{row.family_id}:{row.address_pco_id}"


def _confirm(change: ChurchChange) -> Callable[[sa.Connection, Resource], None]:
    def store(conn: sa.Connection, resource: Resource) -> None:
        held: Mapping[str, object] = {
            name: value for name, value in change.values.items()
            if name in ADDRESS_FIELDS and clean_text(resource.attributes.get(name)) == clean_text(value)}
        confirm_sent(conn, change.entity, change, held)
    return store
