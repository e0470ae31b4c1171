"""Killing a push at any point, or losing PCO's answers, and pushing again never duplicates a person,
contact, household or membership in PCO, and ends with every local record linked."""

import threading
from collections import Counter
from datetime import date

import pytest
import sqlalchemy as sa

from pco_sandbox.core import Sandbox
from pco_pipeline.sync import push_ledger
from pco_pipeline.sync.families_push import run_families_push
from pco_pipeline.sync.memberships_push import run_group_memberships_push
from pco_pipeline.sync.people_push import run_people_push
from pco_pipeline_tests.outbound.conftest import (add_family, add_person, mark_people_read, pco_people_by_remote_id,
                                                  writes)

GROUP_ID = "5001"


class Killed(BaseException):
    """The process died (not an error any code under test may catch)."""


class KillingClient:
    """The real client, except that the process 'dies' at the `kill_at`-th POST: before sending it
    (`sent=False`) or after PCO applied it but before its answer was used (`sent=True`). From then
    on every call dies too, whatever thread makes it."""

    def __init__(self, client, kill_at: int, sent: bool):
        self._client, self._kill_at, self._sent = client, kill_at, sent
        self._lock = threading.Lock()
        self.posts = 0
        self.killed = False

    def post(self, path, body):
        with self._lock:
            if self.killed:
                raise Killed()
            self.posts += 1
            dies_now = self.posts == self._kill_at
            if dies_now and not self._sent:
                self.killed = True
                raise Killed()
        answer = self._client.post(path, body)
        if dies_now:
            self.killed = True
            raise Killed()
        return answer

    def __getattr__(self, name):
        method = getattr(self._client, name)

        def call(*args, **kwargs):
            if self.killed:
                raise Killed()
            return method(*args, **kwargs)
        return call


def seed_group(sandbox: Sandbox, engine: sa.Engine) -> int:
    """A PCO group, and the church's hierarchy holding it; returns the local group id."""
    sandbox.load({"groups/groups": [{"type": "Group", "id": GROUP_ID, "attributes": {
        "name": "Choir", "archived_at": None, "created_at": "2020-01-01T00:00:00Z", "memberships_count": 0},
        "relationships": {"group_type": {"data": None}, "location": {"data": None}}}]})
    with engine.begin() as conn:
        department = conn.execute(sa.text(
            "INSERT INTO church_group (level, name) VALUES (1, 'Worship') RETURNING id")).scalar_one()
        area = conn.execute(sa.text("INSERT INTO church_group (parent_id, level, name) VALUES (:d, 2, 'Music')"
                                    " RETURNING id"), {"d": department}).scalar_one()
        return conn.execute(sa.text("INSERT INTO church_group (parent_id, level, name, pco_id) VALUES (:a, 3,"
                                    " 'Choir', :p) RETURNING id"), {"a": area, "p": GROUP_ID}).scalar_one()


def seed_church(sandbox: Sandbox, engine: sa.Engine) -> dict:
    group = seed_group(sandbox, engine)
    with engine.begin() as conn:
        ann = add_person(conn, "Ann", "Lee", birthdate=date(1980, 1, 2), email="ann@example.org",
                         phone="(217) 555-0101")
        bob = add_person(conn, "Bob", "Lee", birthdate=date(1979, 4, 5), email="bob@example.org")
        cid = add_person(conn, "Cid", "Lee", birthdate=date(2015, 6, 7), child=True, grade=4)
        dee = add_person(conn, "Dee", "Solo", phone="(217) 555-0177")
        add_family(conn, "Lee", [ann, bob, cid], street="1 Main St", city="Springfield", state="IL", zip_code="62701")
        for person, leader_type in ((ann, "leader"), (bob, "coach"), (cid, "member"), (dee, "member")):
            conn.execute(sa.text("INSERT INTO group_membership (group_id, person_id, leader_type, joined_at)"
                                 " VALUES (:g, :p, :t, '2026-01-04T10:00:00Z')"),
                         {"g": group, "p": person, "t": leader_type})
        conn.execute(sa.text("INSERT INTO pco_listing (resource, started_at, finished_at)"
                             " VALUES ('people/households', now(), now())"))
    mark_people_read(engine)
    return {"people": [ann, bob, cid, dee], "group": group}


def push_everything(engine, client, workers: int = 1) -> None:
    run_people_push(engine, client, workers=workers)
    run_families_push(engine, client)
    run_group_memberships_push(engine, client)


# 4 people + 2 emails + 2 phones + 3 addresses, 1 household, 4 memberships.
POSTS_IN_A_FULL_PUSH = 16


def assert_pushed_once(engine, sandbox, church) -> None:
    """PCO holds everything exactly once, and every local record is linked to it."""
    store = sandbox.store
    by_remote = pco_people_by_remote_id(sandbox)
    assert sorted(by_remote) == sorted(church["people"])
    assert all(len(records) == 1 for records in by_remote.values()), by_remote
    for key in ("people/emails", "people/phone_numbers", "people/addresses"):
        owners = Counter(r.rel_ids("person")[0] for r in store.all(key))
        assert all(n == 1 for n in owners.values()), (key, owners)
    assert store.count("people/emails") == 2 and store.count("people/phone_numbers") == 2
    assert store.count("people/addresses") == 3
    [household] = store.all("people/households")
    ann, bob, cid, dee = (by_remote[p][0].id for p in church["people"])
    assert sorted(r[1] for r in store.household_people(household.id)) == sorted([ann, bob, cid])
    memberships = Counter(m.rel_ids("person")[0] for m in store.all("groups/memberships"))
    assert memberships == Counter([ann, bob, cid, dee])
    roles = {m.rel_ids("person")[0]: m.attributes["role"] for m in store.all("groups/memberships")}
    assert roles == {ann: "leader", bob: "member", cid: "member", dee: "member"}
    with engine.connect() as conn:
        unlinked = conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM people WHERE pco_id IS NULL) + (SELECT count(*) FROM person_emails"
            " WHERE pco_id IS NULL) + (SELECT count(*) FROM person_phones WHERE pco_id IS NULL)"
            " + (SELECT count(*) FROM families WHERE pco_id IS NULL)"
            " + (SELECT count(*) FROM group_membership WHERE pco_id IS NULL)")).scalar_one()
        in_flight = conn.execute(sa.text("SELECT count(*) FROM pco_push_ledger WHERE state = 'sent'")).scalar_one()
        open_rows = conn.execute(sa.text("SELECT count(*) FROM sync_quarantine WHERE resolved_at IS NULL")).scalar_one()
    assert (unlinked, in_flight, open_rows) == (0, 0, 0)


def test_an_uninterrupted_push_makes_sixteen_writes(engine, client, sandbox):
    church = seed_church(sandbox, engine)
    push_everything(engine, client)
    assert len(writes(sandbox)) == POSTS_IN_A_FULL_PUSH
    assert_pushed_once(engine, sandbox, church)


# The POSTs in order (one worker): 1 Ann, 2 her email, 3 her phone, 4 her address, 5 Bob, …, 11 Dee's phone,
# 12 the household, 13-16 the memberships. Killed after PCO applied a POST, its answer is lost too; killed
# before sending, only an intent (person, household) is left behind.
CRASH_POINTS = [(n, True) for n in (1, 2, 3, 4, 5, 8, 11, 12, 13, 16)] + [(1, False), (12, False)]


@pytest.mark.parametrize("kill_at, sent", CRASH_POINTS,
                         ids=[f"post{n}-{'applied' if sent else 'unsent'}" for n, sent in CRASH_POINTS])
def test_killed_at_any_post_then_pushed_again(engine, client, sandbox, kill_at, sent):
    church = seed_church(sandbox, engine)
    killing = KillingClient(client, kill_at, sent)
    with pytest.raises(Killed):
        push_everything(engine, killing)
    assert killing.killed
    push_everything(engine, client)
    assert_pushed_once(engine, sandbox, church)
    # A third run finds nothing to do.
    sandbox.controls.reset_request_log()
    push_everything(engine, client)
    assert writes(sandbox) == []


@pytest.mark.parametrize("path_prefix, fault", [
    ("/people/v2/people", "reset"),                         # the first POST: a person
    ("/people/v2/households", "reset"),
    (f"/groups/v2/groups/{GROUP_ID}/memberships", "reset"),
    ("/people/v2/people", "timeout"),
])
def test_lost_answers_are_found_again_not_sent_twice(engine, client, sandbox, path_prefix, fault):
    church = seed_church(sandbox, engine)
    options = {"seconds": 0.2} if fault == "timeout" else {}
    sandbox.controls.inject_fault(fault, method="POST", path_prefix=path_prefix, count=1, **options)
    push_everything(engine, client, workers=4)
    push_everything(engine, client, workers=4)   # what the first run could not settle
    assert_pushed_once(engine, sandbox, church)


def test_a_person_created_before_the_crash_is_adopted_without_a_post(engine, client, sandbox):
    """The crash window simulated directly: PCO has the person, the ledger intent is still open."""
    with engine.begin() as conn:
        ann = add_person(conn, "Ann", "Lee", email="ann@example.org")
        push_ledger.record_intent(conn, run_id="crashed", resource_type="Person", local_table="people",
                                  local_key=str(ann), sent={"first_name": "Ann", "last_name": "Lee", "remote_id": ann})
    mark_people_read(engine)
    made = sandbox.controls.create_person(first_name="Ann", last_name="Lee", remote_id=ann)

    report = run_people_push(engine, client)

    assert report.counts.totals()["adopted"] == 1
    assert [(r["method"], r["path"]) for r in writes(sandbox)] == [("POST", f"/people/v2/people/{made.id}/emails")]
    assert pco_people_by_remote_id(sandbox)[ann] == [sandbox.store.get("people/people", made.id)]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT pco_id FROM people WHERE id = :i"), {"i": ann}).scalar() == made.id
        assert conn.execute(sa.text("SELECT state FROM pco_push_ledger WHERE resource_type = 'Person'")).scalar() \
            == "adopted"


def test_an_older_pco_person_with_the_same_remote_id_is_not_adopted(engine, client, sandbox):
    """remote_id = local id can collide with ids an earlier database gave PCO people."""
    with engine.begin() as conn:
        ann = add_person(conn, "Ann", "Lee")
        push_ledger.record_intent(conn, run_id="crashed", resource_type="Person", local_table="people",
                                  local_key=str(ann), sent={"first_name": "Ann", "last_name": "Lee", "remote_id": ann})
    mark_people_read(engine)
    imported = sandbox.controls.create_person(first_name="Walter", last_name="Import", remote_id=ann)

    run_people_push(engine, client)

    records = pco_people_by_remote_id(sandbox)[ann]
    assert len(records) == 2
    with engine.connect() as conn:
        linked = conn.execute(sa.text("SELECT pco_id FROM people WHERE id = :i"), {"i": ann}).scalar()
    assert linked != imported.id
    assert sandbox.store.get("people/people", linked).attributes["first_name"] == "Ann"
