"""Recording what staff decide about an ambiguous PCO person (the one writer of `match_decisions`
and `distinct_people`, sql/0011_console.sql).

A decision is checked against the quarantine row as the page showed it (its version): a row that
changed since, or was resolved meanwhile, refuses the decision with a message instead of applying
it. Nothing here writes the church's people: the next people load applies the decision
(`sync/match.py`), so it goes through the same matching, linking and quarantine as every record.

- `link`: the PCO person is one of the candidates, who must still be free (not linked to PCO, not
  merged away, not chosen for another PCO person). The other candidates are then held from the
  people push until staff say they are different people (`declare_distinct`).
- `create`: the PCO person is none of them; a new local person is created, and every candidate
  is recorded as a different person (so each may be pushed to PCO on its own).
- `hold`: leave it quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from pco_pipeline.console.review import VERSION_SQL, candidate_ids
from pco_pipeline.sync.quarantine import AMBIGUOUS_MATCH

DECISIONS = ("link", "create", "hold")


class DecisionRefused(ValueError):
    """The decision cannot be recorded; the message says why, for staff."""


@dataclass(frozen=True)
class Recorded:
    decision: str
    pco_person_id: str
    person_id: int | None


def record_decision(engine: sa.Engine, quarantine_id: int, decision: str, *, person_id: int | None,
                    version: str, decided_by: str) -> Recorded:
    """Record `decided_by`'s `decision` on the open ambiguous quarantine row `quarantine_id`, as
    shown at `version`. Raises DecisionRefused (nothing recorded) when it cannot apply."""
    if decision not in DECISIONS:
        raise DecisionRefused(f"unknown decision {decision!r}: choose one of {', '.join(DECISIONS)}")
    if (decision == "link") != (person_id is not None):
        raise DecisionRefused("choose the person to link to" if decision == "link"
                              else "only a link names a person")
    with engine.begin() as conn:
        row = conn.execute(sa.text(
            f"SELECT q.id, q.entity, q.reason_code, q.record_key, q.details, q.resolved_at, {VERSION_SQL} AS version"
            " FROM sync_quarantine q WHERE q.id = :id FOR UPDATE"), {"id": quarantine_id}).first()
        if row is None:
            raise DecisionRefused(f"there is no quarantine entry {quarantine_id}")
        if row.entity != "people" or row.reason_code != AMBIGUOUS_MATCH:
            raise DecisionRefused("only an ambiguous match of a PCO person takes a decision here; this record is "
                                  "fixed at its source (see its reason)")
        if row.resolved_at is not None:
            raise DecisionRefused("this record is no longer waiting for a decision: a sync resolved it after the "
                                  "page was shown. Nothing was changed.")
        if row.version != version:
            raise DecisionRefused("this record changed since the page was shown (a sync updated its candidates "
                                  "or its PCO data): review it again. Nothing was changed.")
        candidates = candidate_ids(dict(row.details or {}))
        if decision == "link":
            _check_free(conn, person_id, candidates, row.record_key)
        conn.execute(sa.text(
            "INSERT INTO match_decisions (pco_person_id, decision, person_id, candidates, quarantine_id, decided_by)"
            " VALUES (:pco, :decision, :person, :candidates, :quarantine, :by)"),
            {"pco": row.record_key, "decision": decision, "person": person_id, "candidates": candidates,
             "quarantine": quarantine_id, "by": decided_by})
        if decision == "create":
            for candidate in candidates:
                _record_distinct(conn, candidate, row.record_key, decided_by)
    return Recorded(decision, row.record_key, person_id)


def _check_free(conn: sa.Connection, person_id: int | None, candidates: list[int], pco_person_id: str) -> None:
    if person_id not in candidates:
        raise DecisionRefused(f"church person {person_id} is not one of this record's candidates")
    person = conn.execute(sa.text("SELECT pco_id, merged_into_id FROM people WHERE id = :id FOR UPDATE"),
                          {"id": person_id}).first()
    if person is None:
        raise DecisionRefused(f"church person {person_id} no longer exists")
    if person.merged_into_id is not None:
        raise DecisionRefused(f"church person {person_id} was merged into church person {person.merged_into_id}")
    if person.pco_id is not None:
        raise DecisionRefused(f"church person {person_id} is already linked to PCO person {person.pco_id}")
    rival = conn.execute(sa.text(
        "SELECT d.pco_person_id FROM match_decisions d"
        " WHERE d.person_id = :person AND d.pco_person_id <> :pco"
        "   AND d.id = (SELECT max(n.id) FROM match_decisions n WHERE n.pco_person_id = d.pco_person_id)"),
        {"person": person_id, "pco": pco_person_id}).scalar()
    if rival is not None:
        raise DecisionRefused(f"church person {person_id} was already chosen for PCO person {rival}")


def declare_distinct(engine: sa.Engine, person_id: int, pco_person_id: str, *, decided_by: str) -> None:
    """Record that church person `person_id` is not PCO person `pco_person_id` (whose ambiguous
    match named them), so the people push may create them in PCO. Raises DecisionRefused when
    they were never a candidate of that PCO person."""
    with engine.begin() as conn:
        named = conn.execute(sa.text(
            "SELECT EXISTS (SELECT 1 FROM sync_quarantine q WHERE q.entity = 'people' AND q.reason_code = :code"
            "   AND q.record_key = :pco AND q.details->'candidates' @> to_jsonb(CAST(:person AS bigint)))"),
            {"code": AMBIGUOUS_MATCH, "pco": pco_person_id, "person": person_id}).scalar()
        if not named:
            raise DecisionRefused(f"church person {person_id} was never a candidate of PCO person {pco_person_id}")
        _record_distinct(conn, person_id, pco_person_id, decided_by)


def _record_distinct(conn: sa.Connection, person_id: int, pco_person_id: str, decided_by: str) -> None:
    conn.execute(sa.text(
        "INSERT INTO distinct_people (person_id, pco_person_id, decided_by) VALUES (:person, :pco, :by)"
        " ON CONFLICT (person_id, pco_person_id) DO NOTHING"),
        {"person": person_id, "pco": pco_person_id, "by": decided_by})
