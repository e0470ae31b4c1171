"""Matching PCO people to local people, set-based, in the load's transaction.

Input: the temp table `stage_people` (valid PCO people: pco_id, first_name, last_name,
birthdate, pco_created_at, …) and the landed emails. Output: the temp table `person_match`,
one row per staged PCO person with `method`:

1. `pco_id` — a local person already carries this PCO id.
2. `email` — among local people WITHOUT a pco_id, those having an email whose normalized form
   equals a normalized email of the PCO person. One candidate: match. Several: keep those whose
   first name equals the PCO person's (trimmed, lower-cased); one left: match; several left:
   `ambiguous_email`; none left: no email match (a shared family address names someone else).
3. `name_birthdate` — among local people WITHOUT a pco_id, first name, last name (trimmed,
   lower-cased) and birthdate all equal, birthdate present on both sides. One: match; several:
   `ambiguous_name_birthdate`. A missing or different birthdate never matches.
4. `create` — nothing matched: a new local person.

A local person is claimed by one PCO person per run: when several PCO people land on the same
local person through steps 2–3, the earliest created in PCO (then the lowest id) keeps it and
the others become `ambiguous_claim`. Ambiguous rows carry the candidate local ids; the load
quarantines them rather than guess.

Names compare with PostgreSQL `lower(btrim(...))` on both sides (Unicode-aware under a UTF-8
database), emails with `normalize.normalize_email` on the PCO side and the stored
`address_normalized` (or `lower(btrim(address))` where a local writer left it empty) locally.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

STAGE = "stage_people"
MATCHES = "person_match"

LINKING_METHODS = ("email", "name_birthdate")
AMBIGUOUS_METHODS = ("ambiguous_email", "ambiguous_name_birthdate", "ambiguous_claim")


@dataclass(frozen=True)
class MatchSummary:
    """How many staged PCO people each rule decided."""

    by_pco_id: int = 0
    by_email: int = 0
    by_name_birthdate: int = 0
    to_create: int = 0
    ambiguous: int = 0


_STEPS = (
    f"""
    CREATE TEMP TABLE {MATCHES} (
        pco_id TEXT PRIMARY KEY, person_id BIGINT, method TEXT NOT NULL,
        candidates BIGINT[], claimed_by TEXT
    ) ON COMMIT DROP
    """,
    # 1. Already linked.
    f"""
    INSERT INTO {MATCHES} (pco_id, person_id, method)
    SELECT s.pco_id, p.id, 'pco_id' FROM {STAGE} s JOIN people p ON p.pco_id = s.pco_id
    """,
    # 2. Email.
    f"""
    INSERT INTO {MATCHES} (pco_id, person_id, method, candidates)
    WITH pco_addresses AS (
        SELECT DISTINCT s.pco_id, lower(btrim(s.first_name)) AS first_key,
               e.normalized->>'address_normalized' AS address
        FROM {STAGE} s
        JOIN pco_landing e ON e.resource = 'people/emails' AND e.parent_pco_id = s.pco_id
                          AND e.removed_at IS NULL
        WHERE e.normalized->>'address_normalized' IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {MATCHES} m WHERE m.pco_id = s.pco_id)
    ), candidates AS (
        SELECT DISTINCT a.pco_id, p.id AS person_id, lower(btrim(p.first_name)) = a.first_key AS same_first
        FROM pco_addresses a
        JOIN person_emails le ON COALESCE(le.address_normalized, lower(btrim(le.address))) = a.address
        JOIN people p ON p.id = le.person_id AND p.pco_id IS NULL
    ), decided AS (
        SELECT pco_id,
               array_agg(person_id ORDER BY person_id) AS all_ids,
               array_agg(person_id ORDER BY person_id) FILTER (WHERE same_first) AS same_first_ids
        FROM candidates GROUP BY pco_id
    )
    SELECT pco_id,
           CASE WHEN cardinality(all_ids) = 1 THEN all_ids[1]
                WHEN cardinality(same_first_ids) = 1 THEN same_first_ids[1] END,
           CASE WHEN cardinality(all_ids) = 1 OR cardinality(same_first_ids) = 1 THEN 'email'
                ELSE 'ambiguous_email' END,
           CASE WHEN cardinality(all_ids) > 1 AND cardinality(same_first_ids) > 1 THEN same_first_ids END
    FROM decided
    WHERE cardinality(all_ids) = 1 OR cardinality(same_first_ids) >= 1
    """,
    # 3. Name + birthdate.
    f"""
    INSERT INTO {MATCHES} (pco_id, person_id, method, candidates)
    WITH candidates AS (
        SELECT s.pco_id, p.id AS person_id
        FROM {STAGE} s
        JOIN people p ON p.pco_id IS NULL AND p.birthdate = s.birthdate
                     AND lower(btrim(p.first_name)) = lower(btrim(s.first_name))
                     AND lower(btrim(p.last_name)) = lower(btrim(s.last_name))
        WHERE s.birthdate IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {MATCHES} m WHERE m.pco_id = s.pco_id)
    ), decided AS (
        SELECT pco_id, array_agg(person_id ORDER BY person_id) AS ids FROM candidates GROUP BY pco_id
    )
    SELECT pco_id,
           CASE WHEN cardinality(ids) = 1 THEN ids[1] END,
           CASE WHEN cardinality(ids) = 1 THEN 'name_birthdate' ELSE 'ambiguous_name_birthdate' END,
           CASE WHEN cardinality(ids) > 1 THEN ids END
    FROM decided
    """,
    # One local person, one PCO person: later claimants are ambiguous.
    f"""
    WITH ranked AS (
        SELECT m.pco_id, m.person_id,
               row_number() OVER claim AS rank, first_value(m.pco_id) OVER claim AS winner
        FROM {MATCHES} m JOIN {STAGE} s ON s.pco_id = m.pco_id
        WHERE m.method IN {LINKING_METHODS}
        WINDOW claim AS (PARTITION BY m.person_id
                         ORDER BY s.pco_created_at NULLS LAST, length(m.pco_id), m.pco_id)
    )
    UPDATE {MATCHES} m SET method = 'ambiguous_claim', candidates = ARRAY[r.person_id],
                           claimed_by = r.winner, person_id = NULL
    FROM ranked r WHERE r.pco_id = m.pco_id AND r.rank > 1
    """,
    # 4. Everyone else is new.
    f"""
    INSERT INTO {MATCHES} (pco_id, method)
    SELECT s.pco_id, 'create' FROM {STAGE} s
    WHERE NOT EXISTS (SELECT 1 FROM {MATCHES} m WHERE m.pco_id = s.pco_id)
    """,
    f"ANALYZE {MATCHES}",
)


def match_people(conn: sa.Connection) -> MatchSummary:
    """Fill `person_match` for every row of `stage_people` (see the module docstring)."""
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {MATCHES}"))
    for statement in _STEPS:
        conn.execute(sa.text(statement))
    counts = dict(conn.execute(sa.text(f"SELECT method, count(*) FROM {MATCHES} GROUP BY method")).all())
    return MatchSummary(
        by_pco_id=counts.get("pco_id", 0),
        by_email=counts.get("email", 0),
        by_name_birthdate=counts.get("name_birthdate", 0),
        to_create=counts.get("create", 0),
        ambiguous=sum(counts.get(m, 0) for m in AMBIGUOUS_METHODS),
    )
