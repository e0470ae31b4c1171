"""push_group_memberships against the sandbox over HTTP: the church's memberships in PCO groups,
role mapping and changes, no duplicates, and nothing written to groups themselves."""

import re

import sqlalchemy as sa

from pco_pipeline.sync.memberships_push import run_group_memberships_push
from pco_pipeline_tests.outbound.conftest import add_person, writes
from pco_pipeline_tests.outbound.test_crash_safety import GROUP_ID, seed_group

# The only writes a push may make under /groups: memberships of a group.
MEMBERSHIP_WRITE = re.compile(r"^/groups/v2/groups/\d+/memberships(/\d+)?$")


def add_membership(conn, group: int, person: int, leader_type: str, pco_id: str | None = None) -> int:
    return conn.execute(sa.text(
        "INSERT INTO group_membership (group_id, person_id, leader_type, joined_at, pco_id)"
        " VALUES (:g, :p, :t, '2026-02-01T18:30:00Z', :pco) RETURNING id"),
        {"g": group, "p": person, "t": leader_type, "pco": pco_id}).scalar_one()


def pco_memberships(sandbox) -> dict[str, dict]:
    """person id → membership attributes (+ id) in the PCO group."""
    return {m.rel_ids("person")[0]: {**m.attributes, "id": m.id} for m in sandbox.store.all("groups/memberships")
            if m.rel_ids("group") == [GROUP_ID]}


def test_memberships_are_created_with_mapped_roles_and_linked(engine, client, sandbox):
    group = seed_group(sandbox, engine)
    people = {name: sandbox.controls.create_person(first_name=name, last_name="Member")
              for name in ("Lea", "Coach", "Otto", "Mem", "Waiting")}
    with engine.begin() as conn:
        local = {name: add_person(conn, name, "Member", pco_id=record.id if name != "Waiting" else None)
                 for name, record in people.items()}
        ids = {name: add_membership(conn, group, local[name], leader_type)
               for name, leader_type in (("Lea", "leader"), ("Coach", "coach"), ("Otto", "other"), ("Mem", "member"),
                                         ("Waiting", "member"))}
        local_only_group = conn.execute(sa.text(
            "INSERT INTO church_group (parent_id, level, name) SELECT parent_id, 3, 'Prayer Chain' FROM church_group"
            " WHERE id = :g RETURNING id"), {"g": group}).scalar_one()
        add_membership(conn, local_only_group, local["Lea"], "leader")

    report = run_group_memberships_push(engine, client)

    log = [(r["method"], r["path"]) for r in sandbox.controls.request_log()]
    assert log[0] == ("GET", f"/groups/v2/groups/{GROUP_ID}/memberships")   # listed before writing
    assert log[1:] == [("POST", f"/groups/v2/groups/{GROUP_ID}/memberships")] * 4
    roles = {pid: m["role"] for pid, m in pco_memberships(sandbox).items()}
    assert roles == {people["Lea"].id: "leader", people["Coach"].id: "member", people["Otto"].id: "member",
                     people["Mem"].id: "member"}
    assert pco_memberships(sandbox)[people["Lea"].id]["joined_at"] == "2026-02-01T18:30:00Z"
    assert report.plan.notes["memberships waiting for their person to be pushed"] == 1
    assert report.plan.notes["memberships in groups PCO does not have (or archived)"] == 1
    with engine.connect() as conn:
        linked = dict(conn.execute(sa.text("SELECT id, pco_id FROM group_membership WHERE pco_id IS NOT NULL")).all())
    assert linked == {ids[name]: pco_memberships(sandbox)[people[name].id]["id"]
                      for name in ("Lea", "Coach", "Otto", "Mem")}

    sandbox.controls.reset_request_log()
    run_group_memberships_push(engine, client)
    assert sandbox.controls.request_log() == []


def test_a_role_changed_at_church_is_patched_and_pco_members_are_not_added_twice(engine, client, sandbox):
    group = seed_group(sandbox, engine)
    promoted, already = (sandbox.controls.create_person(first_name=n, last_name="X") for n in ("Promoted", "Already"))
    existing = {}
    for person in (promoted, already):
        existing[person.id] = sandbox.controls.create(
            "groups/memberships", {"role": "member"}, parent_id=GROUP_ID,
            relationships={"person": {"data": {"type": "Person", "id": person.id}}})
    with engine.begin() as conn:
        p1 = add_person(conn, "Promoted", "X", pco_id=promoted.id)
        p2 = add_person(conn, "Already", "X", pco_id=already.id)
        linked = add_membership(conn, group, p1, "leader", pco_id=existing[promoted.id].id)
        unlinked = add_membership(conn, group, p2, "leader")
        # What the inbound sync last read for the linked one: a member.
        conn.execute(sa.text(
            "INSERT INTO pco_landing (resource, pco_id, parent_pco_id, attributes, relationships, normalized)"
            " VALUES ('groups/memberships', :id, :g, '{\"role\": \"member\"}', '{}',"
            " '{\"leader_type\": \"member\", \"problems\": []}')"), {"id": existing[promoted.id].id, "g": GROUP_ID})

    dry = run_group_memberships_push(engine, None, dry_run=True)
    assert dry.plan.counts() == {"create Membership": 1, "update Membership": 1}
    assert "| role | member → leader |" in dry.plan.markdown()
    report = run_group_memberships_push(engine, client)

    assert report.counts.totals() == {"created": 0, "updated": 2, "deleted": 0, "adopted": 1, "skipped": 0, "failed": 0}
    assert sandbox.store.count("groups/memberships") == 2
    assert {pid: m["role"] for pid, m in pco_memberships(sandbox).items()} == {promoted.id: "leader",
                                                                                already.id: "leader"}
    assert {r["method"] for r in writes(sandbox)} == {"PATCH"}
    assert all(MEMBERSHIP_WRITE.match(r["path"]) for r in writes(sandbox))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pco_id FROM group_membership WHERE id = :i"),
                            {"i": unlinked}).scalar() == existing[already.id].id
        assert conn.execute(sa.text("SELECT pco_id FROM group_membership WHERE id = :i"),
                            {"i": linked}).scalar() == existing[promoted.id].id
