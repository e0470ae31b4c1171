"""Matching PCO people to local people, set-based, in the load's transaction.

Input: the temp table `stage_people` (valid PCO people PCO still has: pco_id, first_name,
last_name, birthdate, pco_created_at, …) and the landed emails and person mergers. Output: the
temp table `person_match`, one row per staged PCO person, decided by the first step that
decides it:

1. `pco_id` — a local person carries this PCO id. `pco_id_merged` — no local person carries it,
   but one carries the id of a record PCO merged into this one (PersonMerger, followed
   transitively): that local person stays linked, to the kept record (lowest local id if
   several).
2. `email` — the PCO person's *counting* addresses are its normalized emails that no other
   PCO person has (an address two PCO people share, a family address, identifies neither).
   Candidates: local people WITHOUT a pco_id holding one of them. One candidate: match.
   Several: keep those whose first name equals the PCO person's; one left: match; several
   left: `ambiguous_email`; none left: undecided, on to step 3.
3. `name_birthdate` — among local people WITHOUT a pco_id and not matched in step 2: first
   name, last name and birthdate all equal, birthdate present on both sides. One: match;
   several: `ambiguous_name_birthdate`. A missing or different birthdate never matches.
4. `create` — undecided after step 3: a new local person.

A local person is claimed by one PCO person: when several PCO people match the same local
person in one step, the one created first in PCO (then the lowest id) keeps it and the others
become `ambiguous_claim`; a local person matched in step 2 is no longer a candidate in step 3.
A lost claim stays lost in later runs (from its open quarantine entry) for as long as the
winner holds that local person, instead of turning into a new person once the winner is linked.
Ambiguous rows carry the candidate local ids; the load quarantines them rather than guess.

Names compare with PostgreSQL `lower(btrim(...))` on both sides (Unicode-aware in a UTF-8
database); emails with `normalize.normalize_email` on the PCO side and the stored
`address_normalized` (or `lower(btrim(address))` where a local writer left it empty) locally.
Nothing else is normalized: accents, inner spaces, dots and +tags in emails all count.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from pco_pipeline.sync import pco_state

STAGE = "stage_people"
MATCHES = "person_match"

LINKING_METHODS = ("pco_id_merged", "email", "name_birthdate")
AMBIGUOUS_METHODS = ("ambiguous_email", "ambiguous_name_birthdate", "ambiguous_claim")

# Every PCO person merged away (directly or through a chain) and the person finally kept.
MERGE_SURVIVORS = """
WITH RECURSIVE mergers AS (
    SELECT normalized->>'person_to_remove_id' AS removed, normalized->>'person_to_keep_id' AS kept
    FROM pco_landing
    WHERE resource = 'people/person_mergers' AND removed_at IS NULL
      AND normalized->>'person_to_remove_id' IS NOT NULL AND normalized->>'person_to_keep_id' IS NOT NULL
), chain (removed, kept, depth) AS (
    SELECT removed, kept, 1 FROM mergers
    UNION ALL
    SELECT c.removed, m.kept, c.depth + 1 FROM chain c JOIN mergers m ON m.removed = c.kept WHERE c.depth < 50
)
SELECT DISTINCT ON (removed) removed, kept FROM chain ORDER BY removed, depth DESC
"""


@dataclass(frozen=True)
class MatchSummary:
    """How many staged PCO people each rule decided."""

    by_pco_id: int = 0
    by_merged_pco_id: int = 0
    by_email: int = 0
    by_name_birthdate: int = 0
    to_create: int = 0
    ambiguous: int = 0


def _resolve_claims(method: str) -> str:
    """Within one step, the earliest-created PCO person keeps a local person; the rest are ambiguous."""
    return f"""
    WITH ranked AS (
        SELECT m.pco_id, m.person_id,
               row_number() OVER claim AS rank, first_value(m.pco_id) OVER claim AS winner
        FROM {MATCHES} m JOIN {STAGE} s ON s.pco_id = m.pco_id
        WHERE m.method = '{method}'
        WINDOW claim AS (PARTITION BY m.person_id
                         ORDER BY s.pco_created_at NULLS LAST, length(m.pco_id), m.pco_id)
    )
    UPDATE {MATCHES} m SET method = 'ambiguous_claim', candidates = ARRAY[r.person_id],
                           claimed_by = r.winner, person_id = NULL
    FROM ranked r WHERE r.pco_id = m.pco_id AND r.rank > 1
    """


_UNDECIDED = f"NOT EXISTS (SELECT 1 FROM {MATCHES} m WHERE m.pco_id = s.pco_id)"
_UNCLAIMED = f"NOT EXISTS (SELECT 1 FROM {MATCHES} m WHERE m.person_id = p.id)"

_STEPS = (
    f"""
    CREATE TEMP TABLE {MATCHES} (
        pco_id TEXT PRIMARY KEY, person_id BIGINT, method TEXT NOT NULL,
        candidates BIGINT[], claimed_by TEXT
    ) ON COMMIT DROP
    """,
    # 1. Linked, directly or through a merger.
    f"""
    INSERT INTO {MATCHES} (pco_id, person_id, method)
    SELECT s.pco_id, p.id, 'pco_id' FROM {STAGE} s JOIN people p ON p.pco_id = s.pco_id
    """,
    f"""
    INSERT INTO {MATCHES} (pco_id, person_id, method)
    SELECT DISTINCT ON (s.pco_id) s.pco_id, p.id, 'pco_id_merged'
    FROM {STAGE} s
    JOIN ({MERGE_SURVIVORS}) v ON v.kept = s.pco_id
    JOIN people p ON p.pco_id = v.removed
    WHERE {_UNDECIDED}
    ORDER BY s.pco_id, p.id
    """,
    # A claim lost in an earlier run stays lost while the winner still holds that local person:
    # the cause (PCO has the person twice) is fixed in PCO or by hand, not by the next run.
    f"""
    INSERT INTO {MATCHES} (pco_id, person_id, method, candidates, claimed_by)
    SELECT s.pco_id, NULL, 'ambiguous_claim', ARRAY[p.id], p.pco_id
    FROM {STAGE} s
    JOIN sync_quarantine q ON q.entity = 'people' AND q.record_key = s.pco_id AND q.resolved_at IS NULL
                          AND q.details->>'rule' = 'ambiguous_claim'
    JOIN people p ON p.id = CAST(q.details->'candidates'->>0 AS bigint) AND p.pco_id = q.details->>'claimed_by'
    WHERE {_UNDECIDED}
    """,
    # 2. Email.
    f"""
    INSERT INTO {MATCHES} (pco_id, person_id, method, candidates)
    WITH shared AS (
        SELECT address_normalized FROM ({pco_state.PERSON_EMAILS}) e
        WHERE address_normalized IS NOT NULL
        GROUP BY address_normalized HAVING count(DISTINCT person_pco_id) > 1
    ), pco_addresses AS (
        SELECT DISTINCT s.pco_id, lower(btrim(s.first_name)) AS first_key,
               e.normalized->>'address_normalized' AS address
        FROM {STAGE} s
        JOIN pco_landing e ON e.resource = 'people/emails' AND e.parent_pco_id = s.pco_id
                          AND e.removed_at IS NULL
        WHERE e.normalized->>'address_normalized' IS NOT NULL AND {_UNDECIDED}
          AND e.normalized->>'address_normalized' NOT IN (SELECT address_normalized FROM shared)
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
    _resolve_claims("email"),
    # 3. Name + birthdate.
    f"""
    INSERT INTO {MATCHES} (pco_id, person_id, method, candidates)
    WITH candidates AS (
        SELECT s.pco_id, p.id AS person_id
        FROM {STAGE} s
        JOIN people p ON p.pco_id IS NULL AND p.birthdate = s.birthdate
                     AND lower(btrim(p.first_name)) = lower(btrim(s.first_name))
                     AND lower(btrim(p.last_name)) = lower(btrim(s.last_name))
        WHERE s.birthdate IS NOT NULL AND {_UNDECIDED} AND {_UNCLAIMED}
    ), decided AS (
        SELECT pco_id, array_agg(person_id ORDER BY person_id) AS ids FROM candidates GROUP BY pco_id
    )
    SELECT pco_id,
           CASE WHEN cardinality(ids) = 1 THEN ids[1] END,
           CASE WHEN cardinality(ids) = 1 THEN 'name_birthdate' ELSE 'ambiguous_name_birthdate' END,
           CASE WHEN cardinality(ids) > 1 THEN ids END
    FROM decided
    """,
    _resolve_claims("name_birthdate"),
    # 4. Everyone else is new.
    f"""
    INSERT INTO {MATCHES} (pco_id, method)
    SELECT s.pco_id, 'create' FROM {STAGE} s WHERE {_UNDECIDED}
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
        by_merged_pco_id=counts.get("pco_id_merged", 0),
        by_email=counts.get("email", 0),
        by_name_birthdate=counts.get("name_birthdate", 0),
        to_create=counts.get("create", 0),
        ambiguous=sum(counts.get(m, 0) for m in AMBIGUOUS_METHODS),
    )
