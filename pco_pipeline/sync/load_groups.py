"""PCO groups → the church's group hierarchy, and PCO memberships → group_membership.

Hierarchy: an auto-created department "PCO Groups" (level 1, pco_id 'pco_groups'; staff may
rename it), one area per PCO group type (level 2, pco_id 'group_type:<id>'; groups without a
type go to 'group_type:none'), and the groups themselves (level 3, pco_id = the group id).
A new group is placed under its type's area; where a group sits afterwards is the church's
(a group already linked by pco_id keeps its place in the church's own hierarchy). PCO owns whether
a group is active (archived or gone → inactive) and its meeting day when the schedule names one;
the church owns meeting_frequency, has_childcare, and the meeting day when PCO's schedule names
none. A group's name and description are two-way for the load (`LINKED_GROUPS`): PCO's value is
taken only where PCO changed it since the two sides last agreed (the base); a church edit is kept
(the church's value wins when both changed). The group_memberships push sends a church rename to
PCO; a church edit of the description, which PCO's API cannot take, is listed once as "needs
action in PCO" in `sync_conflicts`, closed when PCO holds the church's value.

Memberships: PCO leader → 'leader', member → 'member'. Rows the sync created have
source 'pco' and follow PCO (removed when PCO removes them), except that under two-way sync their
leader type gets PCO's value only when PCO changed it since the two sides last agreed
(`three_way_load`): a leader type the church changed stays the church's (the push sends it), and
one both changed is a conflict decided by its policy. A local membership of the same person in
the same group is linked (given the pco_id) but stays the church's: its leader type is not
overwritten and it is never removed by the sync.
"""

from __future__ import annotations

import sqlalchemy as sa

from dataclasses import replace

from pco_pipeline.sync import pco_state, quarantine, three_way_load
from pco_pipeline.sync.conflicts import NEEDS_ACTION, NeedsAction, record_conflicts, record_needs_action
from pco_pipeline.sync.incremental import (
    WRITTEN_HERE, Window, WindowedReport, close_window, count_drifted, open_window)
from pco_pipeline.sync.loading import (
    LoadCounts, Rejection, Staging, begin_load, count, invalid_data, load_staged, missing_parent,
    stage_checked)
from pco_pipeline.sync.merge import EntityFields, FieldSpec, Policy
from pco_pipeline.sync.policies import SyncPolicies, load_policies
from pco_pipeline.sync.statements import statement
from pco_pipeline.sync.two_way_entities import ENTITIES


def load_groups(engine: sa.Engine, *, incremental: bool = False) -> WindowedReport:
    """Load group types and groups; returns counts for `church_groups` (areas and groups). With
    `incremental`, only the groups something changed for since the last committed load
    (`sql/church_groups/changed_since.sql`; every area: they are few), as `incremental.open_window`
    decides; a full load after an earlier one is the drift check."""
    with engine.begin() as conn:
        begin_load(conn, "church_groups")
        window = open_window(conn, "church_groups", "church_groups/changed_since", incremental=incremental)
        areas = _load_areas(conn, _ensure_department(conn))
        groups, looked_at = _load_groups(conn, window)
        counts = LoadCounts.combined([areas, groups])
        quarantine.apply_stage(conn, "church_groups", scope=_group_keys(conn, window))
        drifted = count_drifted(conn, window, _WRITTEN_GROUPS)
        close_window(conn, window, drifted)
        return WindowedReport({"church_groups": counts}, window, looked_at, drifted)


# The groups whose row, base or conflicts (needs-action rows included) this load's transaction wrote.
_WRITTEN_GROUPS = f"""
    SELECT g.pco_id FROM church_group g WHERE g.level = 3 AND {WRITTEN_HERE.format('g')}
    UNION ALL
    SELECT b.pco_id FROM sync_base b WHERE b.entity = 'church_groups' AND {WRITTEN_HERE.format('b')}
    UNION ALL
    SELECT sc.pco_id FROM sync_conflicts sc WHERE sc.entity = 'church_groups' AND {WRITTEN_HERE.format('sc')}"""


def _group_keys(conn: sa.Connection, window: Window) -> list[str] | None:
    """The quarantine keys a run limited to `window`'s groups looked at: those groups and every
    area's (None: every key)."""
    if window.scope is None:
        return None
    return [*window.scope, *conn.execute(sa.text(
        "SELECT record_key FROM sync_quarantine WHERE entity = 'church_groups' AND resolved_at IS NULL"
        " AND starts_with(record_key, :prefix)"), {"prefix": pco_state.GROUP_TYPE_PREFIX}).scalars()]


def _ensure_department(conn: sa.Connection) -> int:
    department = conn.execute(sa.text("SELECT id FROM church_group WHERE pco_id = :p"),
                              {"p": pco_state.PCO_GROUPS_DEPARTMENT}).scalar()
    if department is None:
        department = conn.execute(sa.text(
            "INSERT INTO church_group (pco_id, level, name, description) VALUES (:p, 1, :n,"
            " 'Groups synchronized from Planning Center (created by pco_pipeline)') RETURNING id"),
            {"p": pco_state.PCO_GROUPS_DEPARTMENT, "n": pco_state.PCO_GROUPS_DEPARTMENT_NAME}).scalar_one()
    return department


GROUP_AREAS = Staging(
    entity="church_groups", table="stage_group_areas", state_sql=pco_state.GROUP_AREAS, landing="groups/group_types",
    landing_id_sql=f"substr(s.pco_id, {len(pco_state.GROUP_TYPE_PREFIX) + 1})",
    rejections=(invalid_data("group type"),))


def _load_areas(conn: sa.Connection, department_id: int) -> LoadCounts:
    return load_staged(conn, GROUP_AREAS, update="church_groups/update_areas", create="church_groups/create_areas",
                       retire="church_groups/deactivate_areas", params={"department_id": department_id})


GROUPS = Staging(
    entity="church_groups", table="stage_groups", state_sql=pco_state.GROUPS, landing="groups/groups",
    columns="area.id AS parent_id", joins="LEFT JOIN church_group area ON area.pco_id = s.area_pco_id AND area.level = 2",
    rejections=(invalid_data("group"),
                missing_parent("s.parent_id IS NULL AND NOT EXISTS (SELECT 1 FROM church_group g WHERE g.pco_id = s.pco_id)",
                               "'PCO group ' || s.pco_id || ' belongs to group type ' || s.area_pco_id"
                               " || ', which is not in the church database (not landed, or quarantined)'")))


# What PCO's Groups API (2023-07-10) takes of a group: PATCH /groups/v2/groups/{id} assigns its
# name (the sandbox's Group PATCH: name, schedule, group type, tags), not its description — 422
# "Forbidden Attribute: description cannot be assigned" (planningcenter/developers#1176, 2024-04;
# PCO staff: "most of the endpoints in the groups api are read-only") — and cannot archive one.
# So the push sends a name the church changed (`memberships_push.plan_renames`), and a changed
# description is needs action in PCO.
GROUP_FIELDS = (FieldSpec("name", "text"), FieldSpec("description", "text"))
LINKED_GROUPS = EntityFields(
    "church_groups", GROUP_FIELDS,
    church_relation_sql=("SELECT t.pco_id, t.id AS local_id, t.updated_at AS changed_at, t.name, t.description "
                         "FROM church_group t WHERE t.level = 3 AND t.pco_id IS NOT NULL"),
    pco_relation_sql=f"SELECT s.pco_id, CAST(NULL AS timestamptz) AS changed_at, s.name, s.description "
                     f"FROM ({pco_state.GROUPS}) s")
# PCO's groups carry no updated_at: PCO's change time is unknown.
STAGED_GROUPS = three_way_load.staged(LINKED_GROUPS, "stage_groups", changed_at_sql="CAST(NULL AS timestamptz)")
# The church is the system of record: where both sides changed a field, its value stays (and goes
# to PCO as a church-only change does). Fixed, not in the policy file: PCO never gets a say.
_CHURCH_KEEPS = {spec.name: Policy.CHURCH for spec in GROUP_FIELDS}
_ACTIONS = {"description": "In PCO Groups, set the group's description to the church's"}
# A field both sides changed is recorded in sync_conflicts like any other entity's, so PCO's
# overridden value is never lost silently: as a conflict the church won for what the push sends
# (the name), as the needs-action row (church and PCO values) for what it cannot (`_ACTIONS`).
_SENT_FIELDS = replace(STAGED_GROUPS, fields=tuple(spec for spec in GROUP_FIELDS if spec.name not in _ACTIONS))


def _load_groups(conn: sa.Connection, window: Window) -> tuple[LoadCounts, int]:
    """The groups `window` looks at; returns their counts and how many were staged."""
    counts, staged = stage_checked(conn, GROUPS, scope=window.scope)
    classified = three_way_load.classify(conn, STAGED_GROUPS, _CHURCH_KEEPS)
    record_conflicts(conn, _SENT_FIELDS, _CHURCH_KEEPS, classified=classified)
    counts.updated = count(conn, statement("church_groups/update_groups"))
    counts.created = count(conn, statement("church_groups/create_groups"))
    counts.settle(staged)
    counts.deactivated = count(conn, statement("church_groups/deactivate_groups"))
    three_way_load.settle(conn, STAGED_GROUPS)
    _record_needs_action(conn)
    return counts, staged


def open_needs_action(conn: sa.Connection) -> int:
    """How many group edits of the church are waiting to be made in PCO (open needs-action rows)."""
    return conn.execute(sa.text(
        "SELECT count(*) FROM sync_conflicts WHERE entity = 'church_groups' AND outcome = :outcome"
        " AND decided_at IS NULL"), {"outcome": NEEDS_ACTION}).scalar_one()


def _record_needs_action(conn: sa.Connection) -> None:
    """Each linked group's field PCO's API cannot take (`_ACTIONS`) on which the church's value,
    kept by the load, differs from PCO's is one open needs-action row; rows whose field PCO now
    holds as the church does close."""
    for field, action in _ACTIONS.items():
        found = conn.execute(sa.text(f"""
            SELECT g.id, g.pco_id, g.{field} AS church, s.{field} AS pco, s.name AS pco_name
            FROM church_group g JOIN stage_groups s ON s.pco_id = g.pco_id
            WHERE g.level = 3 AND g.{field} IS DISTINCT FROM s.{field}
            ORDER BY g.id""")).all()
        record_needs_action(conn, "church_groups", field, [
            NeedsAction(row.id, row.pco_id, row.church, row.pco, f"{action} (PCO group {row.pco_id}, '{row.pco_name}')")
            for row in found])


GROUP_MEMBERSHIPS = Staging(
    entity="group_memberships", table="stage_memberships", state_sql=pco_state.GROUP_MEMBERSHIPS,
    landing="groups/memberships", columns="g.id AS group_id, p.id AS person_id",
    joins="LEFT JOIN church_group g ON g.pco_id = s.group_pco_id AND g.level = 3"
          " LEFT JOIN people p ON p.pco_id = s.person_pco_id",
    rejections=(
        invalid_data("membership"),
        missing_parent("s.group_id IS NULL OR s.person_id IS NULL",
                       "'PCO membership ' || s.pco_id || ': ' || CASE WHEN s.group_id IS NULL"
                       " THEN 'group ' || COALESCE(s.group_pco_id, '(none)')"
                       " ELSE 'person ' || COALESCE(s.person_pco_id, '(none)') END || ' is not in the church database'",
                       "jsonb_build_object('group', s.group_pco_id, 'person', s.person_pco_id)"),
        Rejection("EXISTS (SELECT 1 FROM stage_memberships o WHERE o.group_id = s.group_id"
                  " AND o.person_id = s.person_id AND (length(o.pco_id), o.pco_id) < (length(s.pco_id), s.pco_id))",
                  quarantine.INVALID_DATA,
                  "'PCO membership ' || s.pco_id || ' repeats another membership of person ' || s.person_pco_id"
                  " || ' in group ' || s.group_pco_id")))


# Two-way sync's view of the sync's own memberships this load staged (PCO's side: the stage).
# Local memberships are the church's.
_SYNC_CREATED = ENTITIES["group_memberships"]
STAGED_MEMBERSHIPS = three_way_load.staged(
    replace(_SYNC_CREATED, church_relation_sql=(
        f"SELECT c.* FROM ({_SYNC_CREATED.church_relation_sql}) c "
        "WHERE EXISTS (SELECT 1 FROM group_membership gm WHERE gm.id = c.local_id AND gm.source = 'pco')")),
    "stage_memberships")
_LEADER_TYPE = next(spec for spec in STAGED_MEMBERSHIPS.fields if spec.name == "leader_type")


def _update_sync_created(conn: sa.Connection, classified: str) -> int:
    """The sync's own memberships follow PCO's group, person and joined date, and take PCO's
    leader type where the classified outcome does."""
    return count(conn, f"""
        UPDATE group_membership gm
        SET group_id = s.group_id, person_id = s.person_id, joined_at = s.joined_at,
            leader_type = {three_way_load.field_value_sql(_LEADER_TYPE, 'gm')}
        FROM stage_memberships s JOIN {classified} d ON d.pco_id = s.pco_id
        WHERE gm.pco_id = s.pco_id AND gm.source = 'pco'
          AND ((gm.group_id, gm.person_id, gm.joined_at) IS DISTINCT FROM (s.group_id, s.person_id, s.joined_at)
               OR {three_way_load.any_taken_sql(STAGED_MEMBERSHIPS, 'gm')})
        """)


def load_group_memberships(engine: sa.Engine, *, policies: SyncPolicies | None = None,
                           incremental: bool = False) -> WindowedReport:
    """Load landed group memberships (after `load_people` and `load_groups`). `policies` decide
    conflicts (default: `policies.load_policies()`). With `incremental`, only the memberships
    something changed for since the last committed load (`sql/group_memberships/changed_since.sql`),
    as `incremental.open_window` decides; a full load after an earlier one is the drift check."""
    policies = policies or load_policies()
    with engine.begin() as conn:
        begin_load(conn, "group_memberships")
        window = open_window(conn, "group_memberships", "group_memberships/changed_since", incremental=incremental)
        counts, staged = stage_checked(conn, GROUP_MEMBERSHIPS, scope=window.scope)
        chosen = policies.for_entity("group_memberships")
        classified = three_way_load.classify(conn, STAGED_MEMBERSHIPS, chosen)
        record_conflicts(conn, STAGED_MEMBERSHIPS, chosen, classified=classified)
        gone = conn.execute(statement("group_memberships/remove_gone"), {"scope": window.scope}).all()
        counts.deactivated = sum(1 for row in gone if row.source == "pco")
        counts.updated = _update_sync_created(conn, classified)
        counts.updated += count(conn, statement("group_memberships/link_same_person"))
        counts.created = count(conn, statement("group_memberships/create"))
        three_way_load.apply_resolutions(conn, STAGED_MEMBERSHIPS, "group_membership")
        three_way_load.settle(conn, STAGED_MEMBERSHIPS)
        remaining = conn.execute(sa.text("SELECT count(*) FROM stage_memberships")).scalar_one()
        counts.unchanged = remaining - counts.created - counts.updated
        counts.updated += len(gone) - counts.deactivated  # unlinked, not staged rows: counted after `unchanged`
        quarantine.apply_stage(conn, "group_memberships", scope=window.scope)
        drifted = count_drifted(conn, window, _WRITTEN_MEMBERSHIPS, deleted=[row.pco_id for row in gone])
        close_window(conn, window, drifted)
        return WindowedReport({"group_memberships": counts}, window, staged, drifted)


# The memberships whose row, base or conflicts this load's transaction wrote.
_WRITTEN_MEMBERSHIPS = f"""
    SELECT gm.pco_id FROM group_membership gm WHERE {WRITTEN_HERE.format('gm')}
    UNION ALL
    SELECT b.pco_id FROM sync_base b WHERE b.entity = 'group_memberships' AND {WRITTEN_HERE.format('b')}
    UNION ALL
    SELECT sc.pco_id FROM sync_conflicts sc WHERE sc.entity = 'group_memberships' AND {WRITTEN_HERE.format('sc')}"""
