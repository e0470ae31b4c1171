"""PCO groups → the church's group hierarchy, and PCO memberships → group_membership.

Hierarchy: an auto-created department "PCO Groups" (level 1, pco_id 'pco_groups'; staff may
rename it), one area per PCO group type (level 2, pco_id 'group_type:<id>'; groups without a
type go to 'group_type:none'), and the groups themselves (level 3, pco_id = the group id).
A new group is placed under its type's area; where a group sits afterwards is the church's
(a group already linked by pco_id keeps its place in the church's own hierarchy). PCO owns a
group's name, description, whether it is active (archived or gone → inactive) and its meeting
day when the schedule names one; the church owns the rest (meeting_frequency, has_childcare,
and the meeting day when PCO's schedule names none).

Memberships: PCO leader → 'leader', member → 'member'. Rows the sync created have
source 'pco' and follow PCO entirely (removed when PCO removes them). A local membership of
the same person in the same group is linked (given the pco_id) but stays the church's: its
leader type is not overwritten and it is never removed by the sync.
"""

from __future__ import annotations

import sqlalchemy as sa

from pco_pipeline.sync import pco_state, quarantine
from pco_pipeline.sync.loading import (
    LoadCounts, LoadReport, Rejection, Staging, begin_load, count, invalid_data, load_staged, missing_parent,
    stage_checked)
from pco_pipeline.sync.statements import statement


def load_groups(engine: sa.Engine) -> LoadReport:
    """Load group types and groups; returns counts for `church_groups` (areas and groups)."""
    with engine.begin() as conn:
        begin_load(conn, "church_groups")
        department_id = _ensure_department(conn)
        counts = LoadCounts.combined([_load_areas(conn, department_id), _load_groups(conn)])
        quarantine.apply_stage(conn, "church_groups")
        return {"church_groups": counts}


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


def _load_groups(conn: sa.Connection) -> LoadCounts:
    return load_staged(conn, GROUPS, update="church_groups/update_groups", create="church_groups/create_groups",
                       retire="church_groups/deactivate_groups")


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


def load_group_memberships(engine: sa.Engine) -> LoadReport:
    """Load landed group memberships (after `load_people` and `load_groups`)."""
    with engine.begin() as conn:
        begin_load(conn, "group_memberships")
        counts, _ = stage_checked(conn, GROUP_MEMBERSHIPS)
        counts.deactivated, unlinked = conn.execute(statement("group_memberships/remove_gone")).one()
        counts.updated = count(conn, statement("group_memberships/update"))
        counts.updated += count(conn, statement("group_memberships/link_same_person"))
        counts.created = count(conn, statement("group_memberships/create"))
        remaining = conn.execute(sa.text("SELECT count(*) FROM stage_memberships")).scalar_one()
        counts.unchanged = remaining - counts.created - counts.updated
        counts.updated += unlinked  # not staged rows: counted after `unchanged`
        quarantine.apply_stage(conn, "group_memberships")
        return {"group_memberships": counts}
