"""PCO households → families and family_members (and PCO addresses → the family address).

PCO owns, for families it has (pco_id set): the name, the address (see `pco_state.FAMILIES` for
which member's address) and who the members are, including the primary contact. A member's
`role` is derived when the membership is created (primary contact → head, a child → child,
otherwise other) and is the church's to refine afterwards (PCO has no spouse/child roles).
Local people without a pco_id in a PCO family are the church's and stay.
Households PCO no longer has keep their family, marked `pco_removed_at`.

A household new to the church database is first looked for among the families the church
entered on its own (no pco_id), through its members: people matching already linked them to
PCO. The family is linked (and from then on PCO's) when it is the only such family holding
members of the household, the household is the only one holding members of it, and every
PCO-linked member of the family is in the household — so linking never drops anyone from a
family the church built. Otherwise a family is created for the household, as before.
"""

from __future__ import annotations

import sqlalchemy as sa

from pco_pipeline.sync import pco_state, quarantine
from pco_pipeline.sync.loading import (
    LoadCounts, LoadReport, begin_load, count, landed_record, reject, reject_invalid, stage)

FAMILY_FIELDS = ("name", "street_line_1", "street_line_2", "city", "state", "zip", "country_code")


def load_families(engine: sa.Engine) -> LoadReport:
    """Load every landed household; returns counts for `families` and `family_members`."""
    with engine.begin() as conn:
        begin_load(conn, "families")
        # Who is in which household, expanded from the landed households once: linking church
        # families and loading the members both read it.
        stage(conn, "stage_household_people", pco_state.FAMILY_MEMBERS)
        families = _load_families(conn)
        members = _load_members(conn)
        quarantine.apply_stage(conn, "families")
        quarantine.apply_stage(conn, "family_members")
        return {"families": families, "family_members": members}


def _load_families(conn: sa.Connection) -> LoadCounts:
    counts = LoadCounts()
    staged = stage(conn, "stage_families", pco_state.FAMILIES)
    counts.quarantined = reject_invalid(conn, "families", "stage_families", "household",
                                        record_sql=landed_record("people/households"))
    linked = _link_church_families(conn)
    set_fields = ", ".join(f"{f} = s.{f}" for f in FAMILY_FIELDS)
    counts.updated = count(conn, f"""
        UPDATE families f SET {set_fields}, pco_updated_at = s.pco_updated_at, pco_removed_at = NULL,
                              updated_at = now()
        FROM stage_families s
        WHERE f.pco_id = s.pco_id
          AND (f.id = ANY(CAST(:linked AS bigint[]))
               OR ({', '.join('f.' + c for c in FAMILY_FIELDS)}, f.pco_removed_at IS NULL)
                  IS DISTINCT FROM ({', '.join('s.' + c for c in FAMILY_FIELDS)}, true))
        """, {"linked": linked})
    counts.created = count(conn, f"""
        INSERT INTO families (pco_id, {', '.join(FAMILY_FIELDS)}, pco_updated_at)
        SELECT s.pco_id, {', '.join('s.' + c for c in FAMILY_FIELDS)}, s.pco_updated_at FROM stage_families s
        WHERE NOT EXISTS (SELECT 1 FROM families f WHERE f.pco_id = s.pco_id)
        ORDER BY length(s.pco_id), s.pco_id
        """)
    counts.unchanged = staged - counts.quarantined - counts.created - counts.updated
    counts.deactivated = count(conn, """
        UPDATE families f SET pco_removed_at = now(), updated_at = now()
        WHERE f.pco_id IS NOT NULL AND f.pco_removed_at IS NULL
          AND EXISTS (SELECT 1 FROM pco_landing l WHERE l.resource = 'people/households'
                        AND l.pco_id = f.pco_id AND l.removed_at IS NOT NULL)
        """)
    return counts


def _link_church_families(conn: sa.Connection) -> list[int]:
    """Give new households' pco_ids to the church's own families that hold their members (see the
    module doc); returns the ids of the families linked."""
    return list(conn.execute(sa.text("""
        WITH church_members AS (  -- the PCO-linked people of the families the church entered
            SELECT fm.family_id, p.pco_id AS person_pco_id
            FROM family_members fm
            JOIN families f ON f.id = fm.family_id AND f.pco_id IS NULL
            JOIN people p ON p.id = fm.person_id AND p.pco_id IS NOT NULL
        ), candidates AS (
            SELECT DISTINCT hp.family_pco_id AS household, cm.family_id
            FROM stage_household_people hp
            JOIN stage_families s ON s.pco_id = hp.family_pco_id
            JOIN church_members cm ON cm.person_pco_id = hp.person_pco_id
            WHERE NOT EXISTS (SELECT 1 FROM families g WHERE g.pco_id = hp.family_pco_id)
        ), counted AS (
            SELECT household, family_id,
                   count(*) OVER (PARTITION BY household) AS families_of_household,
                   count(*) OVER (PARTITION BY family_id) AS households_of_family
            FROM candidates
        ), would_leave AS (  -- pairs where a PCO-linked member of the family is not in the household
            SELECT DISTINCT c.household, c.family_id
            FROM candidates c
            JOIN church_members cm ON cm.family_id = c.family_id
            LEFT JOIN stage_household_people hp ON hp.family_pco_id = c.household
                                               AND hp.person_pco_id = cm.person_pco_id
            WHERE hp.family_pco_id IS NULL
        ), unique_pairs AS (
            SELECT c.household, c.family_id FROM counted c
            LEFT JOIN would_leave w ON w.household = c.household AND w.family_id = c.family_id
            WHERE c.families_of_household = 1 AND c.households_of_family = 1 AND w.family_id IS NULL
        )
        UPDATE families f SET pco_id = u.household, updated_at = now()
        FROM unique_pairs u WHERE f.id = u.family_id
        RETURNING f.id
        """)).scalars())


def _load_members(conn: sa.Connection) -> LoadCounts:
    counts = LoadCounts()
    stage(conn, "stage_family_members", "SELECT * FROM stage_household_people",
          columns="f.id AS family_id, p.id AS person_id, p.child",
          joins="LEFT JOIN families f ON f.pco_id = s.family_pco_id LEFT JOIN people p ON p.pco_id = s.person_pco_id")
    # An invalid household is quarantined as a family; its members wait for it silently.
    conn.execute(sa.text("DELETE FROM stage_family_members WHERE problems IS NOT NULL"))
    staged = conn.execute(sa.text("SELECT count(*) FROM stage_family_members")).scalar_one()
    counts.quarantined = reject(
        conn, "family_members", "stage_family_members", "s.family_id IS NULL OR s.person_id IS NULL",
        quarantine.MISSING_PARENT,
        "CASE WHEN s.family_id IS NULL THEN 'household ' || s.family_pco_id || ' is not in the church database'"
        " ELSE 'PCO person ' || s.person_pco_id || ' (member of household ' || s.family_pco_id"
        " || ') is not in the church database' END",
        details_sql="jsonb_build_object('household', s.family_pco_id, 'person', s.person_pco_id)",
        record_sql=landed_record("people/households", "s.family_pco_id"))
    counts.updated = count(conn, """
        UPDATE family_members fm SET is_primary_contact = s.is_primary_contact, updated_at = now()
        FROM stage_family_members s
        WHERE fm.family_id = s.family_id AND fm.person_id = s.person_id
          AND fm.is_primary_contact IS DISTINCT FROM s.is_primary_contact
        """)
    counts.created = count(conn, """
        INSERT INTO family_members (family_id, person_id, role, is_primary_contact)
        SELECT s.family_id, s.person_id,
               CASE WHEN s.is_primary_contact THEN 'head' WHEN s.child THEN 'child' ELSE 'other' END,
               s.is_primary_contact
        FROM stage_family_members s
        WHERE NOT EXISTS (SELECT 1 FROM family_members fm WHERE fm.family_id = s.family_id AND fm.person_id = s.person_id)
        """)
    counts.unchanged = staged - counts.quarantined - counts.created - counts.updated
    # PCO-linked people no longer in a present PCO household leave its family.
    counts.deactivated = count(conn, """
        DELETE FROM family_members fm USING families f, people p
        WHERE fm.family_id = f.id AND fm.person_id = p.id
          AND f.pco_id IS NOT NULL AND p.pco_id IS NOT NULL
          AND EXISTS (SELECT 1 FROM pco_landing h WHERE h.resource = 'people/households'
                        AND h.pco_id = f.pco_id AND h.removed_at IS NULL
                        AND h.normalized->'problems' = '[]'::jsonb)
          AND NOT EXISTS (SELECT 1 FROM stage_family_members s
                          WHERE s.family_id = fm.family_id AND s.person_id = fm.person_id)
        """)
    return counts
