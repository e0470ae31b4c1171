"""Groups → department / area / group; memberships mirrored by source."""

from pco_pipeline.sync.load_groups import load_group_memberships, load_groups
from pco_pipeline.sync.load_people import load_people
from pco_pipeline_tests.sync.pco_docs import (
    execute, group, group_type, land, membership, person, rows, scalar)


def _setup(engine):
    land(engine, "people/people", [person("1", "Ann", "Lee"), person("2", "Bob", "Ray"), person("3", "Cy", "Oh")])
    load_people(engine)
    land(engine, "groups/group_types", [group_type("t1", "Small Groups", "Weekly groups"),
                                        group_type("t2", "Classes")], listing=True)
    land(engine, "groups/groups", [group("g1", "Tuesday Men", "t1", schedule="Tuesdays at 7pm",
                                         description="Men's study"),
                                   group("g2", "Newcomers", "t2"),
                                   group("g3", "Prayer", None, archived_at="2023-12-01T00:00:00Z")], listing=True)


def test_groups_hang_under_an_auto_created_department_and_an_area_per_type(engine):
    _setup(engine)
    report = load_groups(engine)
    assert report["church_groups"].created == 6  # 3 areas (two types + untyped) and 3 groups
    tree = rows(engine, "SELECT g.level, g.name, g.pco_id, parent.name AS parent, g.meeting_day, g.is_active"
                        " FROM church_group g LEFT JOIN church_group parent ON parent.id = g.parent_id"
                        " ORDER BY g.level, g.name")
    assert [tuple(r) for r in tree] == [
        (1, "PCO Groups", "pco_groups", None, None, True),
        (2, "Classes", "group_type:t2", "PCO Groups", None, True),
        (2, "Other PCO groups", "group_type:none", "PCO Groups", None, True),
        (2, "Small Groups", "group_type:t1", "PCO Groups", None, True),
        (3, "Newcomers", "g2", "Classes", None, True),
        (3, "Prayer", "g3", "Other PCO groups", None, False),   # archived
        (3, "Tuesday Men", "g1", "Small Groups", "tuesday", True),
    ]
    assert load_groups(engine)["church_groups"].writes == 0


def test_church_owned_group_fields_survive_and_a_renamed_department_is_kept(engine):
    _setup(engine)
    load_groups(engine)
    execute(engine, "UPDATE church_group SET has_childcare = true, meeting_frequency = 'weekly',"
                    " meeting_day = 'friday' WHERE pco_id = 'g2'")
    execute(engine, "UPDATE church_group SET name = 'Planning Center groups' WHERE pco_id = 'pco_groups'")
    land(engine, "groups/groups", [group("g2", "Newcomers 101", "t2")])
    assert load_groups(engine)["church_groups"].updated == 1
    row = rows(engine, "SELECT name, has_childcare, meeting_frequency, meeting_day FROM church_group WHERE pco_id = 'g2'")[0]
    assert tuple(row) == ("Newcomers 101", True, "weekly", "friday")  # PCO's schedule names no day
    assert scalar(engine, "SELECT count(*) FROM church_group WHERE level = 1") == 1


def test_a_group_pco_removed_becomes_inactive(engine):
    _setup(engine)
    load_groups(engine)
    land(engine, "groups/groups", [group("g1", "Tuesday Men", "t1"), group("g3", "Prayer", None)], listing=True)
    assert load_groups(engine)["church_groups"].deactivated == 1
    assert tuple(rows(engine, "SELECT is_active, pco_removed_at IS NOT NULL FROM church_group WHERE pco_id = 'g2'")[0]) \
        == (False, True)


def test_memberships_map_roles_and_follow_pco(engine):
    _setup(engine)
    load_groups(engine)
    land(engine, "groups/memberships", [membership("m1", "g1", "1", "leader"), membership("m2", "g1", "2")],
         parent_pco_id="g1")
    report = load_group_memberships(engine)
    assert report["group_memberships"].created == 2
    assert rows(engine, "SELECT p.pco_id, gm.leader_type, gm.source FROM group_membership gm"
                        " JOIN people p ON p.id = gm.person_id ORDER BY p.pco_id") == [
        ("1", "leader", "pco"), ("2", "member", "pco")]
    assert load_group_memberships(engine)["group_memberships"].writes == 0
    # The next complete listing (every group's memberships) finds m1 demoted and m2 gone.
    land(engine, "groups/memberships", [membership("m1", "g1", "1", "member")], parent_pco_id="g1", listing=True)
    report = load_group_memberships(engine)
    assert (report["group_memberships"].updated, report["group_memberships"].deactivated) == (1, 1)
    assert rows(engine, "SELECT leader_type FROM group_membership") == [("member",)]


def test_local_memberships_are_linked_but_stay_the_churchs(engine):
    _setup(engine)
    load_groups(engine)
    group_id = scalar(engine, "SELECT id FROM church_group WHERE pco_id = 'g1'")
    ann, cy = (scalar(engine, "SELECT id FROM people WHERE pco_id = :p", p=p) for p in ("1", "3"))
    execute(engine, "INSERT INTO group_membership (group_id, person_id, leader_type) VALUES (:g, :a, 'coach'),"
                    " (:g, :c, 'member')", g=group_id, a=ann, c=cy)
    land(engine, "groups/memberships", [membership("m1", "g1", "1", "member")], parent_pco_id="g1", listing=True)
    report = load_group_memberships(engine)
    assert (report["group_memberships"].created, report["group_memberships"].updated) == (0, 1)
    assert rows(engine, "SELECT person_id, pco_id, leader_type, source FROM group_membership ORDER BY person_id") == [
        (ann, "m1", "coach", "local"), (cy, None, "member", "local")]
    # PCO drops Ann's membership: the church's row stays, no longer linked to PCO's.
    land(engine, "groups/memberships", [membership("m9", "g2", "2")], parent_pco_id="g2", listing=True)
    report = load_group_memberships(engine)["group_memberships"]
    assert (report.deactivated, report.updated) == (0, 1)
    assert rows(engine, "SELECT person_id, pco_id, leader_type, source FROM group_membership"
                        " WHERE source = 'local' ORDER BY person_id") == [
        (ann, None, "coach", "local"), (cy, None, "member", "local")]


def test_memberships_of_unknown_groups_or_people_are_quarantined(engine):
    _setup(engine)
    load_groups(engine)
    land(engine, "groups/memberships", [membership("m1", "g1", "99"), membership("m2", "g42", "1")])
    report = load_group_memberships(engine)
    assert report["group_memberships"].quarantined == 2
    assert sorted(r.reason for r in rows(engine, "SELECT reason FROM sync_quarantine WHERE entity = 'group_memberships'")) == [
        "PCO membership m1: person 99 is not in the church database",
        "PCO membership m2: group g42 is not in the church database"]
