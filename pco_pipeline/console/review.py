"""What the quarantine review shows: the open quarantine, and for one record the PCO side and each
local candidate side by side with the evidence staff decide on.

Read-only; `console.decisions` records what staff decide. Every value is returned as data and
rendered escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from pco_pipeline.sync.quarantine import AMBIGUOUS_MATCH

PAGE_SIZE = 200

# The version of a quarantine row a decision is made on: what the load wrote into it. A load that
# changes the candidates, the reason or the PCO record changes it, so a decision made on an older
# page is refused.
VERSION_SQL = "md5(q.reason_code || q.reason || q.details::text || coalesce(q.record::text, ''))"

PLAIN_REASONS = {
    "ambiguous_match": "The PCO person could be more than one person in the church database. Choose who it is.",
    "invalid_data": "PCO holds a value the church database cannot store. Correct it in PCO; the next sync "
                    "loads the record.",
    "missing_parent": "The record belongs to a record that is not in the church database yet (see that "
                      "record's own quarantine entry).",
    "unreadable": "PCO sent a record that could not be read. If it stays, report it with the record below.",
    "possible_duplicate": "This church person was not sent to PCO because PCO may already have them "
                          "(see the PCO person named in the reason).",
}


@dataclass(frozen=True)
class QuarantineRow:
    id: int
    entity: str
    direction: str
    record_key: str
    reason_code: str
    reason: str
    first_seen_at: datetime
    last_seen_at: datetime
    seen_count: int
    resolved_at: datetime | None = None
    name: str | None = None   # the person's name in the record, when it names one

    @property
    def plain_reason(self) -> str:
        return PLAIN_REASONS.get(self.reason_code, "")

    @property
    def is_ambiguous_person(self) -> bool:
        return self.entity == "people" and self.reason_code == AMBIGUOUS_MATCH


@dataclass
class PersonEvidence:
    """One side of the comparison: the PCO person, or a local candidate."""

    label: str
    first_name: str | None = None
    last_name: str | None = None
    nickname: str | None = None
    birthdate: date | str | None = None
    gender: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    checkins: int | None = None
    local_id: int | None = None
    pco_id: str | None = None
    is_active: bool = True
    blocked: str | None = None   # why this candidate cannot be chosen now


@dataclass
class Decision:
    decision: str
    person_id: int | None
    decided_by: str
    decided_at: datetime


@dataclass
class Review:
    row: QuarantineRow
    version: str
    details: dict[str, Any]
    record: Any
    pco: PersonEvidence | None = None
    candidates: list[PersonEvidence] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)   # newest first
    distinct: set[int] = field(default_factory=set)           # candidates staff said are someone else

    @property
    def current(self) -> Decision | None:
        return self.decisions[0] if self.decisions else None


_COLUMNS = ("q.id, q.entity, q.direction, q.record_key, q.reason_code, q.reason, q.first_seen_at, q.last_seen_at,"
            " q.seen_count, q.resolved_at,"
            " CASE WHEN jsonb_typeof(q.record) = 'object' THEN nullif(concat_ws(' ', q.record->>'first_name',"
            " q.record->>'last_name'), '') END")


def open_quarantine(conn: sa.Connection, limit: int = PAGE_SIZE) -> list[QuarantineRow]:
    """Open quarantine rows, ambiguous people first, then newest first."""
    rows = conn.execute(sa.text(
        f"SELECT {_COLUMNS} FROM sync_quarantine q WHERE q.resolved_at IS NULL"
        " ORDER BY (q.entity = 'people' AND q.reason_code = :ambiguous) DESC, q.last_seen_at DESC, q.id DESC"
        " LIMIT :limit"), {"ambiguous": AMBIGUOUS_MATCH, "limit": limit})
    return [QuarantineRow(*row) for row in rows]


def open_count(conn: sa.Connection) -> int:
    return int(conn.execute(sa.text("SELECT count(*) FROM sync_quarantine WHERE resolved_at IS NULL")).scalar_one())


def load_review(conn: sa.Connection, quarantine_id: int) -> Review | None:
    """The quarantine row `quarantine_id` with its evidence; None when there is no such row."""
    row = conn.execute(sa.text(
        f"SELECT {_COLUMNS}, {VERSION_SQL} AS version, q.details, q.record FROM sync_quarantine q WHERE q.id = :id"),
        {"id": quarantine_id}).first()
    if row is None:
        return None
    review = Review(QuarantineRow(*row[:11]), row.version, dict(row.details or {}), row.record)
    if review.row.is_ambiguous_person:
        review.pco = pco_person(conn, review.row.record_key)
        found = (local_person(conn, person_id) for person_id in candidate_ids(review.details))
        review.candidates = [candidate for candidate in found if candidate is not None]
        review.decisions = decisions_for(conn, review.row.record_key)
        review.distinct = set(conn.execute(sa.text(
            "SELECT person_id FROM distinct_people WHERE pco_person_id = :pco"),
            {"pco": review.row.record_key}).scalars())
    return review


def candidate_ids(details: dict[str, Any]) -> list[int]:
    """The local candidate ids an ambiguous match named (ignoring anything that is not an id)."""
    candidates = details.get("candidates")
    if not isinstance(candidates, list):
        return []
    return [int(c) for c in candidates if isinstance(c, int) or (isinstance(c, str) and c.isdigit())]


def decisions_for(conn: sa.Connection, pco_person_id: str) -> list[Decision]:
    return [Decision(*row) for row in conn.execute(sa.text(
        "SELECT decision, person_id, decided_by, decided_at FROM match_decisions WHERE pco_person_id = :pco"
        " ORDER BY decided_at DESC, id DESC"), {"pco": pco_person_id})]


def pco_person(conn: sa.Connection, pco_id: str) -> PersonEvidence:
    """The PCO person as landed: names, birthdate, emails, phones, households."""
    attributes = conn.execute(sa.text(
        "SELECT attributes FROM pco_landing WHERE resource = 'people/people' AND pco_id = :id"),
        {"id": pco_id}).scalar() or {}
    evidence = PersonEvidence(
        label=f"PCO person {pco_id}", first_name=attributes.get("first_name"), last_name=attributes.get("last_name"),
        nickname=attributes.get("nickname"), birthdate=attributes.get("birthdate"), gender=attributes.get("gender"),
        pco_id=pco_id)
    children = conn.execute(sa.text(
        "SELECT resource, attributes FROM pco_landing"
        " WHERE resource IN ('people/emails', 'people/phone_numbers') AND parent_pco_id = :id AND removed_at IS NULL"
        " ORDER BY resource, pco_id"), {"id": pco_id}).all()
    evidence.emails = [str(a.get("address")) for r, a in children if r == "people/emails" and a.get("address")]
    evidence.phones = [str(a.get("number")) for r, a in children if r == "people/phone_numbers" and a.get("number")]
    evidence.families = list(conn.execute(sa.text(
        "SELECT coalesce(attributes->>'name', 'household ' || pco_id) FROM pco_landing"
        " WHERE resource = 'people/households' AND removed_at IS NULL AND relationships->'people' ? :id"
        " ORDER BY pco_id"), {"id": pco_id}).scalars())
    return evidence


def local_person(conn: sa.Connection, person_id: int) -> PersonEvidence | None:
    """A local person with their contacts, families and check-in count; None if gone."""
    person = conn.execute(sa.text(
        "SELECT id, first_name, last_name, nickname, birthdate, gender, pco_id, is_active, merged_into_id,"
        " (SELECT count(*) FROM checkins c WHERE c.person_id = p.id) AS checkins"
        " FROM people p WHERE id = :id"), {"id": person_id}).first()
    if person is None:
        return None
    evidence = PersonEvidence(
        label=f"church person {person.id}", first_name=person.first_name, last_name=person.last_name,
        nickname=person.nickname, birthdate=person.birthdate, gender=person.gender, checkins=int(person.checkins),
        local_id=person.id, pco_id=person.pco_id, is_active=person.is_active)
    evidence.emails = list(conn.execute(sa.text(
        "SELECT address FROM person_emails WHERE person_id = :id ORDER BY is_primary DESC, id"),
        {"id": person_id}).scalars())
    evidence.phones = list(conn.execute(sa.text(
        "SELECT number FROM person_phones WHERE person_id = :id ORDER BY is_primary DESC, id"),
        {"id": person_id}).scalars())
    evidence.families = list(conn.execute(sa.text(
        "SELECT f.name FROM family_members fm JOIN families f ON f.id = fm.family_id WHERE fm.person_id = :id"
        " ORDER BY f.id"), {"id": person_id}).scalars())
    if person.merged_into_id is not None:
        evidence.blocked = f"merged into church person {person.merged_into_id}"
    elif person.pco_id is not None:
        evidence.blocked = f"already linked to PCO person {person.pco_id}"
    return evidence
