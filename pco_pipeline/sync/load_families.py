"""PCO households → families and family_members (and PCO addresses → the family address).

PCO owns, for families it has (pco_id set): the name, the address (see `pco_state.FAMILIES` for
which member's address) and who the members are, including the primary contact. Under two-way
sync a linked family gets PCO's value only of the fields PCO changed since the two sides last
agreed (`three_way_load`): a name or address the church changed stays the church's (the push
sends it), and a field both changed is a conflict decided by its policy. Who is in the family
follows the same rule, one (household, person) pair at a time (the `family_members` entity of
`two_way_entities`): a person PCO added joins the family; a member PCO took out leaves it only if
the two sides had agreed on them (a member the church added and the push has not sent yet
stays), unless the church changed that member (a conflict); a member the church took out is not
brought back while the removal waits for the push, unless PCO changed them since (a conflict);
the primary contact is PCO's only where PCO changed it (both sides choosing different members is a
conflict on both members, decided by `family_members.is_primary_contact`'s policy). A member's
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

from collections.abc import Mapping
from dataclasses import replace

import sqlalchemy as sa

from pco_pipeline.sync import pco_state, quarantine, three_way_load
from pco_pipeline.sync.base import forget_base
from pco_pipeline.sync.conflicts import record_conflicts
from pco_pipeline.sync.incremental import (
    WRITTEN_HERE, Window, WindowedReport, close_window, count_drifted, open_window)
from pco_pipeline.sync.merge import Outcome, Policy
from pco_pipeline.sync.loading import (
    LoadCounts, Staging, begin_load, count, invalid_data, missing_parent, stage,
    stage_checked)
from pco_pipeline.sync.policies import SyncPolicies, load_policies
from pco_pipeline.sync.statements import statement
from pco_pipeline.sync.two_way_entities import ENTITIES

FAMILY_FIELDS = ("name", "street_line_1", "street_line_2", "city", "state", "zip", "country_code")


def load_families(engine: sa.Engine, *, policies: SyncPolicies | None = None,
                  incremental: bool = False) -> WindowedReport:
    """Load landed households; returns counts for `families` and `family_members` (and the
    load's window). `policies` decide conflicts (default: `policies.load_policies()`).

    With `incremental`, only the households something changed for since the watermark the last
    committed load left (`sql/families/changed_since.sql`) are staged and compared; a full load
    (every household: the first, one not asked to be incremental, or the first after the nightly
    full refresh, `incremental.open_window`) after an earlier one is the drift check."""
    policies = policies or load_policies()
    with engine.begin() as conn:
        begin_load(conn, "families")
        window = open_window(conn, "families", "families/changed_since", incremental=incremental)
        # Who is in which household, expanded from the landed households once: linking church
        # families and loading the members both read it.
        stage(conn, "stage_household_people", pco_state.FAMILY_MEMBERS, scope=window.scope,
              scope_column="family_pco_id")
        families, looked_at = _load_families(conn, policies, window)
        members, departed = _load_members(conn, policies)
        quarantine.apply_stage(conn, "families", scope=window.scope)
        quarantine.apply_stage(conn, "family_members", scope=_member_keys(conn, window))
        drifted = count_drifted(conn, window, _WRITTEN, deleted=[pair.split(":")[0] for pair in departed])
        close_window(conn, window, drifted)
        return WindowedReport({"families": families, "family_members": members}, window, looked_at, drifted)


# The households whose family, members, bases or conflicts this load's transaction wrote.
_WRITTEN = f"""
    SELECT f.pco_id FROM families f WHERE {WRITTEN_HERE.format('f')}
    UNION ALL
    SELECT f.pco_id FROM family_members fm JOIN families f ON f.id = fm.family_id WHERE {WRITTEN_HERE.format('fm')}
    UNION ALL
    SELECT split_part(b.pco_id, ':', 1) FROM sync_base b
    WHERE b.entity IN ('families', 'family_members') AND {WRITTEN_HERE.format('b')}
    UNION ALL
    SELECT split_part(sc.pco_id, ':', 1) FROM sync_conflicts sc
    WHERE sc.entity IN ('families', 'family_members') AND {WRITTEN_HERE.format('sc')}"""


def _member_keys(conn: sa.Connection, window: Window) -> list[str] | None:
    """The member quarantine keys ("<household>:<person>") a run limited to `window`'s households
    looked at: those it staged and the open entries of those households (None: every one)."""
    if window.scope is None:
        return None
    return list(conn.execute(sa.text("""
        SELECT h.pco_id FROM stage_household_people h
        UNION SELECT q.record_key FROM sync_quarantine q
        WHERE q.entity = 'family_members' AND q.resolved_at IS NULL
          AND split_part(q.record_key, ':', 1) = ANY(CAST(:households AS text[]))"""),
        {"households": window.scope}).scalars())


FAMILIES = Staging(entity="families", state_sql=pco_state.FAMILIES, landing="people/households",
                   rejections=(invalid_data("household"),))
# Two-way sync's view of the families this load staged (PCO's side: the stage).
STAGED_FAMILIES = three_way_load.staged(ENTITIES["families"], "stage_families")
_SET_THREE_WAY = ", ".join(f"{spec.name} = {three_way_load.field_value_sql(spec, 'f')}"
                           for spec in STAGED_FAMILIES.fields)


def _load_families(conn: sa.Connection, policies: SyncPolicies, window: Window) -> tuple[LoadCounts, int]:
    """The families of the households `window` looks at; returns their counts and how many
    households were staged."""
    counts, staged = stage_checked(conn, FAMILIES, scope=window.scope)
    conn.execute(statement("families/skip_deleted_in_church"))   # the church deleted them
    chosen = policies.for_entity("families")
    classified = three_way_load.classify(conn, STAGED_FAMILIES, chosen)
    record_conflicts(conn, STAGED_FAMILIES, chosen, classified=classified)
    linked = _link_church_families(conn)
    set_fields = ", ".join(f"{f} = s.{f}" for f in FAMILY_FIELDS)
    # Families linked by this run take PCO's values; the others only what PCO changed.
    counts.updated = count(conn, f"""
        UPDATE families f SET {set_fields}, pco_updated_at = s.pco_updated_at, pco_removed_at = NULL
        FROM stage_families s WHERE f.pco_id = s.pco_id AND f.id = ANY(CAST(:linked AS bigint[]))
        """, {"linked": linked})
    counts.updated += count(conn, f"""
        UPDATE families f SET {_SET_THREE_WAY}, pco_updated_at = s.pco_updated_at, pco_removed_at = NULL
        FROM stage_families s JOIN {classified} d ON d.pco_id = s.pco_id
        WHERE f.pco_id = s.pco_id AND NOT f.id = ANY(CAST(:linked AS bigint[]))
          AND ({three_way_load.any_taken_sql(STAGED_FAMILIES, 'f')} OR f.pco_removed_at IS NOT NULL)
        """, {"linked": linked})
    counts.created = count(conn, f"""
        INSERT INTO families (pco_id, {', '.join(FAMILY_FIELDS)}, pco_updated_at)
        SELECT s.pco_id, {', '.join('s.' + c for c in FAMILY_FIELDS)}, s.pco_updated_at FROM stage_families s
        WHERE NOT EXISTS (SELECT 1 FROM families f WHERE f.pco_id = s.pco_id)
        ORDER BY length(s.pco_id), s.pco_id
        """)
    three_way_load.apply_resolutions(conn, STAGED_FAMILIES, "families")
    three_way_load.settle(conn, STAGED_FAMILIES)
    counts.settle(staged)
    counts.deactivated = count(conn, statement("families/mark_removed"), {"scope": window.scope})
    return counts, staged


def _link_church_families(conn: sa.Connection) -> list[int]:
    """Give new households' pco_ids to the church's own families that hold their members (see the
    module doc); returns the ids of the families linked."""
    return list(conn.execute(statement("families/link_church_families")).scalars())


# Who is in which household (staged once by `load_families`), with the local ids. An invalid
# household is quarantined as a family; its members wait for it silently. A person the church
# deleted (made inactive in PCO, where they stay in the household) is not a member to load.
FAMILY_MEMBERS = Staging(
    entity="family_members",
    state_sql="SELECT * FROM stage_household_people h WHERE h.problems IS NULL AND NOT EXISTS"
              " (SELECT 1 FROM church_deletions d WHERE d.local_table = 'people' AND d.pco_id = h.person_pco_id)",
    landing="people/households", landing_id_sql="s.family_pco_id",
    columns="f.id AS family_id, p.id AS person_id, p.child",
    joins="LEFT JOIN families f ON f.pco_id = s.family_pco_id LEFT JOIN people p ON p.pco_id = s.person_pco_id",
    rejections=(missing_parent(
        "s.family_id IS NULL OR s.person_id IS NULL",
        "CASE WHEN s.family_id IS NULL THEN 'household ' || s.family_pco_id || ' is not in the church database'"
        " ELSE 'PCO person ' || s.person_pco_id || ' (member of household ' || s.family_pco_id"
        " || ') is not in the church database' END",
        "jsonb_build_object('household', s.family_pco_id, 'person', s.person_pco_id)"),))


# Two-way sync's view of the memberships this load staged (PCO's side: the stage).
# The church's side is narrowed to the staged households' families first, by the family id the
# relation carries as local_id (a plain column: the filter reaches its join and its indexes),
# before the staged pairs' ids, which it computes for every member it reads.
_MEMBERS = ENTITIES["family_members"]
STAGED_MEMBERS = three_way_load.staged(
    replace(_MEMBERS, church_relation_sql=(
        f"SELECT * FROM ({_MEMBERS.church_relation_sql}) c WHERE c.local_id IN "
        "(SELECT f.id FROM families f JOIN stage_families s ON s.pco_id = f.pco_id)")),
    "stage_family_members")
_DEPARTED = "departed_family_members"   # families/departed_members, as a temp table
# A primary contact both sides chose differently, as the policy decides it (families/primary_contact_conflicts).
_HOUSEHOLD_CONFLICT = {Policy.PCO: str(Outcome.CONFLICT_PCO_WINS), Policy.CHURCH: str(Outcome.CONFLICT_CHURCH_WINS),
                       Policy.MANUAL: str(Outcome.CONFLICT_HELD), Policy.NEWEST: "newest"}


def _load_members(conn: sa.Connection, policies: SyncPolicies) -> tuple[LoadCounts, list[str]]:
    """Who is in each family, by the three-way rule per (household, person) pair (module docstring);
    returns the counts and the pairs removed."""
    chosen = policies.for_entity("family_members")
    counts, staged = stage_checked(conn, FAMILY_MEMBERS)
    classified = three_way_load.classify(conn, STAGED_MEMBERS, chosen)
    conn.execute(statement("families/primary_contact_conflicts"),
                 {"outcome": _HOUSEHOLD_CONFLICT[chosen["is_primary_contact"]]})
    record_conflicts(conn, STAGED_MEMBERS, chosen, classified=classified)
    counts.updated = count(conn, statement("families/update_members"))
    counts.updated += count(conn, statement("families/apply_member_resolutions"))
    counts.created = count(conn, statement("families/create_members"), {"kept_out": _kept_out(conn, chosen)})
    counts.settle(staged)
    conn.execute(sa.text(f"DROP TABLE IF EXISTS {_DEPARTED}"))
    conn.execute(sa.text(f"CREATE TEMP TABLE {_DEPARTED} ON COMMIT DROP AS "
                         + statement("families/departed_members").text))
    removed = three_way_load.pco_deletions(ENTITIES["family_members"], STAGED_MEMBERS, f"SELECT pco_id FROM {_DEPARTED}")
    removed_classified = three_way_load.classify(conn, removed, chosen, deleted_in_pco=True)
    record_conflicts(conn, removed, chosen, classified=removed_classified)
    kept = three_way_load.kept_against_pco_deletion(conn, removed, removed_classified)
    gone = list(conn.execute(statement("families/remove_departed_members"), {"kept": kept}).scalars())
    for pair in gone:
        forget_base(conn, "family_members", pair)
    counts.deactivated = len(gone)
    three_way_load.settle(conn, STAGED_MEMBERS)
    return counts, gone


def _kept_out(conn: sa.Connection, policies: Mapping[str, Policy]) -> list[str]:
    """The pairs the church took out of a family that PCO still lists and that stay out: the
    removal waits for the push, unless PCO changed the member since the two sides agreed (a
    conflict, recorded; PCO's side wins it by policy → the member comes back)."""
    return three_way_load.kept_deleted_in_church(conn, STAGED_MEMBERS, policies,
                                                 statement("families/removed_in_church").text)
