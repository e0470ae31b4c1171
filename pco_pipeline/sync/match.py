"""Matching PCO people to local people, set-based, in the load's transaction.

Input: the temp table `stage_people` (valid PCO people PCO still has: pco_id, first_name,
last_name, birthdate, pco_created_at, …) and the landed emails and person mergers. Output: the
temp table `person_match`, one row per staged PCO person, decided by the first step that
decides it:

1. `pco_id` — a local person carries this PCO id. `pco_id_merged` — no local person carries it,
   but one carries the id of a record PCO merged into this one (PersonMerger, followed
   transitively): that local person stays linked, to the kept record (lowest local id if
   several).
   `staff_link` / `create` / `staff_hold` — staff decided about this PCO person in the console's
   quarantine review (`match_decisions`, the newest decision): link it to the local person they
   chose (while that person is still free: no pco_id, not merged away), create a new person, or
   keep it quarantined. A person staff chose is no candidate in steps 2 and 3.
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

from pco_pipeline.sync.statements import statement

STAGE = "stage_people"   # the statements in sync/sql/people/match_*.sql name these temp tables
MATCHES = "person_match"

LINKING_METHODS = ("pco_id_merged", "staff_link", "email", "name_birthdate")
AMBIGUOUS_METHODS = ("ambiguous_email", "ambiguous_name_birthdate", "ambiguous_claim", "staff_hold")


@dataclass(frozen=True)
class MatchSummary:
    """How many staged PCO people each rule decided."""

    by_pco_id: int = 0
    by_merged_pco_id: int = 0
    by_staff: int = 0          # linked as staff decided in the console
    by_email: int = 0
    by_name_birthdate: int = 0
    to_create: int = 0
    ambiguous: int = 0


# The steps in order, each a statement in sync/sql/people/ and its parameters; a step decides only
# the PCO people no earlier step decided.
_STEPS: tuple[tuple[str, dict[str, str]], ...] = (
    ("people/match_table", {}),
    ("people/match_pco_id", {}),
    ("people/match_pco_id_merged", {}),
    ("people/match_staff_decision", {}),
    ("people/match_resolve_claims", {"method": "staff_link"}),
    ("people/match_lost_claims", {}),
    ("people/match_email", {}),
    ("people/match_resolve_claims", {"method": "email"}),
    ("people/match_name_birthdate", {}),
    ("people/match_resolve_claims", {"method": "name_birthdate"}),
    ("people/match_create", {}),
)


def match_people(conn: sa.Connection) -> MatchSummary:
    """Fill `person_match` for every row of `stage_people` (see the module docstring)."""
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {MATCHES}"))
    for name, params in _STEPS:
        conn.execute(statement(name), params)
    conn.execute(sa.text(f"ANALYZE {MATCHES}"))
    counts = dict(conn.execute(sa.text(f"SELECT method, count(*) FROM {MATCHES} GROUP BY method")).all())
    return MatchSummary(
        by_pco_id=counts.get("pco_id", 0),
        by_merged_pco_id=counts.get("pco_id_merged", 0),
        by_staff=counts.get("staff_link", 0),
        by_email=counts.get("email", 0),
        by_name_birthdate=counts.get("name_birthdate", 0),
        to_create=counts.get("create", 0),
        ambiguous=sum(counts.get(m, 0) for m in AMBIGUOUS_METHODS),
    )
