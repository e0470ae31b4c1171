"""A person's sync page: what was received from PCO about them (landed rows: the person, their
emails, phones, addresses), what was sent to PCO for them (push ledger), and their quarantine
entries, each newest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pco_pipeline.console.review import PersonEvidence, local_person

HISTORY_LIMIT = 200


@dataclass(frozen=True)
class Landed:
    resource: str
    pco_id: str
    attributes: dict[str, Any]
    changed_at: datetime
    last_seen_at: datetime
    removed_at: datetime | None


@dataclass(frozen=True)
class Sent:
    resource_type: str
    action: str
    local_table: str
    local_key: str
    pco_id: str | None
    state: str
    sent: dict[str, Any]
    detail: str | None
    sent_at: datetime
    run_id: str | None


@dataclass(frozen=True)
class Held:
    entity: str
    direction: str
    reason: str
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    id: int


@dataclass
class PersonHistory:
    person: PersonEvidence
    landed: list[Landed] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    quarantine: list[Held] = field(default_factory=list)


def person_history(conn: sa.Connection, person_id: int) -> PersonHistory | None:
    """The sync history of church person `person_id`; None when there is no such person."""
    person = local_person(conn, person_id)
    if person is None:
        return None
    history = PersonHistory(person)
    keys = {"person": person_id, "key": str(person_id), "pco": person.pco_id, "limit": HISTORY_LIMIT}
    if person.pco_id is not None:
        history.landed = [Landed(*row) for row in conn.execute(sa.text(
            "SELECT resource, pco_id, attributes, changed_at, last_seen_at, removed_at FROM pco_landing"
            " WHERE (resource = 'people/people' AND pco_id = :pco)"
            "    OR (resource IN ('people/emails', 'people/phone_numbers', 'people/addresses')"
            "        AND parent_pco_id = :pco)"
            " ORDER BY changed_at DESC, resource, pco_id LIMIT :limit"), keys)]
    history.sent = [Sent(*row) for row in conn.execute(sa.text(
        "SELECT resource_type, action, local_table, local_key, pco_id, state, sent, detail, sent_at, run_id"
        " FROM pco_push_ledger l"
        " WHERE (l.local_table = 'people' AND l.local_key = :key)"
        "    OR (l.local_table = 'person_emails'"
        "        AND l.local_key IN (SELECT CAST(id AS text) FROM person_emails WHERE person_id = :person))"
        "    OR (l.local_table = 'person_phones'"
        "        AND l.local_key IN (SELECT CAST(id AS text) FROM person_phones WHERE person_id = :person))"
        "    OR (l.local_table = 'families' AND l.local_key LIKE '%:' || :key)"
        " ORDER BY l.sent_at DESC, l.id DESC LIMIT :limit"), keys)]
    history.quarantine = [Held(*row) for row in conn.execute(sa.text(
        "SELECT entity, direction, reason, first_seen_at, last_seen_at, resolved_at, id FROM sync_quarantine q"
        " WHERE (q.entity = 'people' AND q.record_key = :pco)"
        "    OR (q.entity = 'people' AND q.details->'candidates' @> to_jsonb(CAST(:person AS bigint)))"
        "    OR (q.entity = 'push_people' AND q.record_key = :key)"
        "    OR (q.entity = 'push_person_emails'"
        "        AND q.record_key IN (SELECT CAST(id AS text) FROM person_emails WHERE person_id = :person))"
        "    OR (q.entity = 'push_person_phones'"
        "        AND q.record_key IN (SELECT CAST(id AS text) FROM person_phones WHERE person_id = :person))"
        " ORDER BY q.last_seen_at DESC, q.id DESC LIMIT :limit"), keys)]
    return history
