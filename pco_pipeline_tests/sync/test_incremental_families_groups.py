"""Incremental families, groups and memberships loads (issue 17 item 3): each reads only what
changed since its watermark; the full comparison after the nightly full refresh counts (and
repairs) what the incremental path missed, 0 on the normal path."""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_groups import load_group_memberships, load_groups
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.registry import FAMILIES_ENTITY, GROUPS_ENTITY, MEMBERSHIPS_ENTITY
from pco_pipeline_tests.sync.pco_docs import (
    address, execute, group, group_type, household, land, membership, person, rows, scalar)
from pco_pipeline_tests.two_way.two_way_world import fresh_database

PEOPLE = [str(i) for i in range(1, 9)]
HOUSEHOLDS = {"h1": ["1", "2"], "h2": ["3", "4", "5"], "h3": ["6"]}
GROUPS = ("g1", "g2")
# Everything the three loads write, content only (no change times): what the incremental loads
# leave must be what a full load leaves.
CHURCH_STATE = """
    SELECT 'family', f.pco_id, concat_ws('|', f.name, f.street_line_1, f.city, f.pco_removed_at IS NULL)
    FROM families f
    UNION ALL SELECT 'member', f.pco_id || ':' || p.pco_id, concat_ws('|', fm.role, fm.is_primary_contact)
    FROM family_members fm JOIN families f ON f.id = fm.family_id JOIN people p ON p.id = fm.person_id
    UNION ALL SELECT 'group', g.pco_id, concat_ws('|', g.name, g.description, g.is_active, g.pco_removed_at IS NULL)
    FROM church_group g
    UNION ALL SELECT 'membership', coalesce(gm.pco_id, gm.id::text),
                     concat_ws('|', g.pco_id, p.pco_id, gm.leader_type, gm.source)
    FROM group_membership gm JOIN church_group g ON g.id = gm.group_id JOIN people p ON p.id = gm.person_id
    UNION ALL SELECT 'base', b.entity || ' ' || b.pco_id, b.agreed_values::text FROM sync_base b
    WHERE b.entity IN ('families', 'family_members', 'church_groups', 'group_memberships')
    UNION ALL SELECT 'conflict', sc.entity || ' ' || sc.pco_id || ' ' || sc.field,
                     concat_ws('|', sc.outcome, sc.decided_at IS NULL, sc.applied_at IS NULL)
    FROM sync_conflicts sc WHERE sc.entity IN ('families', 'family_members', 'church_groups', 'group_memberships')
    UNION ALL SELECT 'quarantine', q.entity || ' ' || q.record_key, (q.resolved_at IS NULL)::text
    FROM sync_quarantine q WHERE q.entity IN ('families', 'family_members', 'church_groups', 'group_memberships')
    ORDER BY 1, 2, 3"""
_stamps = itertools.count(1)


def _later() -> str:
    """A PCO updated_at later than every one before (PCO changed the record)."""
    n = next(_stamps)
    return f"2025-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z"


def _land_households(engine, households: dict[str, list[str]], names: dict[str, str]) -> None:
    land(engine, "people/households", [household(h, names.get(h, f"Family {h}"), members, members[0] if members else None,
                                                  updated_at=_later()) for h, members in households.items()])


def _church(engine) -> None:
    """A church synced with PCO: 8 people (with an address each), 3 households, 2 groups with 6
    memberships, each load run once (full: no watermark yet)."""
    land(engine, "people/people", [person(p, f"First{p}", f"Last{p}", addresses=[address(f"{p} Main St", "Anaheim",
                                                                                          id=f"a{p}")])
                                   for p in PEOPLE])
    load_people(engine)
    _land_households(engine, HOUSEHOLDS, {})
    land(engine, "groups/group_types", [group_type("t1", "Small groups")])
    land(engine, "groups/groups", [group(g, f"Group {g}", "t1") for g in GROUPS])
    land(engine, "groups/memberships", [membership(f"m{p}", GROUPS[int(p) % 2], p) for p in PEOPLE[:6]])
    for load in _LOADS:
        assert load(engine).full


def _incremental(load):
    return lambda engine: load(engine, incremental=True)


_LOADS = (_incremental(load_families), _incremental(load_groups), _incremental(load_group_memberships))


def _nightly_full_refresh(engine) -> None:
    """What the nightly full refresh leaves behind for the loads: a complete listing of PCO's people."""
    execute(engine, "INSERT INTO pco_listing (resource, started_at, finished_at) VALUES ('people/people', now(), now())")


@pytest.fixture
def church(engine):
    _church(engine)
    return engine


def test_idle_incremental_loads_look_at_nothing_and_write_nothing(church):
    before = rows(church, CHURCH_STATE)
    for load in _LOADS:
        report = load(church)
        assert not report.full and report.looked_at == 0 and report.drifted_records is None
        assert all(counts.writes == 0 and counts.unchanged == 0 for entity, counts in report.items()
                   if entity != "church_groups")  # every run loads the areas (one per group type)
    assert rows(church, CHURCH_STATE) == before


def test_incremental_loads_write_what_changed_on_either_side(church):
    _land_households(church, {"h2": ["3", "4", "5", "7"]}, {"h2": "Renamed"})         # PCO: a member, a name
    land(church, "groups/memberships", [membership("m3", "g2", "3", role="leader")])   # PCO: a leader
    execute(church, "UPDATE church_group SET name = 'Church name' WHERE pco_id = 'g1'")  # the church: a rename
    families, groups, memberships = (load(church) for load in _LOADS)
    assert (families.looked_at, groups.looked_at, memberships.looked_at) == (1, 1, 1)
    assert families["families"].updated == 1 and families["family_members"].created == 1
    assert memberships["group_memberships"].updated == 1
    assert groups["church_groups"].writes == 0  # the church's rename is kept (the push sends it)
    assert rows(church, "SELECT f.name, count(*) FROM families f JOIN family_members m ON m.family_id = f.id"
                        " WHERE f.pco_id = 'h2' GROUP BY f.name") == [("Renamed", 4)]
    assert scalar(church, "SELECT leader_type FROM group_membership WHERE pco_id = 'm3'") == "leader"
    assert scalar(church, "SELECT name FROM church_group WHERE pco_id = 'g1'") == "Church name"


def test_a_member_whose_address_changed_moves_the_family_address(church):
    land(church, "people/people", [person("1", "First1", "Last1", updated_at=_later(),
                                          addresses=[address("9 New Rd", "Irvine", id="a1")])])
    load_people(church, incremental=True)
    report = load_families(church, incremental=True)
    assert report.looked_at == 1 and report["families"].updated == 1
    assert rows(church, "SELECT street_line_1, city FROM families WHERE pco_id = 'h1'") == [("9 New Rd", "Irvine")]


def test_a_membership_waiting_for_its_person_loads_once_the_person_is_there(church):
    land(church, "groups/memberships", [membership("m9", "g1", "9")])
    assert load_group_memberships(church, incremental=True)["group_memberships"].quarantined == 1
    land(church, "people/people", [person("9", "First9", "Last9")])
    load_people(church, incremental=True)
    report = load_group_memberships(church, incremental=True)
    assert report["group_memberships"].created == 1
    assert scalar(church, "SELECT count(*) FROM sync_quarantine WHERE record_key = 'm9' AND resolved_at IS NULL") == 0


_ASSETS = {"families": FAMILIES_ENTITY, "church_groups": GROUPS_ENTITY, "group_memberships": MEMBERSHIPS_ENTITY}
_MISSED = ("UPDATE pco_landing SET normalized = jsonb_set(normalized, :path, to_jsonb(CAST(:value AS text))),"
           " changed_at = '2020-01-01'")


@pytest.mark.parametrize("entity, landed, path, value, check", [
    ("families", "people/households:h1", "{name}", "Missed", "SELECT name FROM families WHERE pco_id = 'h1'"),
    ("church_groups", "groups/groups:g2", "{name}", "Missed", "SELECT name FROM church_group WHERE pco_id = 'g2'"),
    ("group_memberships", "groups/memberships:m4", "{leader_type}", "leader",
     "SELECT leader_type FROM group_membership WHERE pco_id = 'm4'"),
])
def test_the_drift_check_counts_and_repairs_a_change_the_incremental_path_missed(church, entity, landed, path, value,
                                                                                  check):
    load = _ASSETS[entity].load  # what the church/* asset runs and shows in its metadata
    before = scalar(church, check)
    # A landed change stamped as older than the watermark (e.g. a row restored from a backup).
    resource, pco_id = landed.split(":")
    execute(church, _MISSED + " WHERE resource = :r AND pco_id = :p", path=path, value=value, r=resource, p=pco_id)
    idle = load(church)
    assert idle.facts["full_comparison"] == 0 and "drifted_records" not in idle.facts
    assert scalar(church, check) == before
    _nightly_full_refresh(church)
    full = load(church)
    assert full.facts["full_comparison"] == 1 and full.facts["drifted_records"] == 1
    assert scalar(church, check) == value != before
    assert scalar(church, "SELECT drifted_records FROM load_watermarks WHERE entity = :e", e=entity) == 1
    _nightly_full_refresh(church)
    assert load(church).facts["drifted_records"] == 0


# --- incremental equals full, after random changes on both sides ---------------------------------

_CHANGE = st.one_of(
    st.tuples(st.just("pco_rename_household"), st.sampled_from(sorted(HOUSEHOLDS))),
    st.tuples(st.just("pco_move_person"), st.sampled_from(PEOPLE), st.sampled_from(sorted(HOUSEHOLDS))),
    st.tuples(st.just("pco_remove_household"), st.sampled_from(sorted(HOUSEHOLDS))),
    st.tuples(st.just("pco_move_address"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("pco_role"), st.sampled_from(PEOPLE[:6]), st.sampled_from(["leader", "member"])),
    st.tuples(st.just("pco_join_group"), st.sampled_from(PEOPLE), st.sampled_from(GROUPS)),
    st.tuples(st.just("pco_leave_group"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("pco_rename_group"), st.sampled_from(GROUPS)),
    st.tuples(st.just("pco_new_person"), st.sampled_from(sorted(HOUSEHOLDS)), st.sampled_from(GROUPS)),
    st.tuples(st.just("church_rename_family"), st.sampled_from(sorted(HOUSEHOLDS))),
    st.tuples(st.just("church_remove_member"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("church_role"), st.sampled_from(PEOPLE), st.sampled_from(["leader", "member"])),
    st.tuples(st.just("church_rename_group"), st.sampled_from(GROUPS)),
)


class _World:
    """PCO's side as the test changed it (households, memberships), applied through the landing
    and the church's own writers (plain SQL)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.households = {h: list(members) for h, members in HOUSEHOLDS.items()}
        self.names: dict[str, str] = {}
        self.memberships = {f"m{p}": (GROUPS[int(p) % 2], p, "member") for p in PEOPLE[:6]}
        self.people = list(PEOPLE)
        self.serial = itertools.count(100)

    def apply(self, change: tuple) -> None:
        kind, *args = change
        getattr(self, kind)(*args)

    def _households(self, *changed: str) -> None:
        _land_households(self.engine, {h: self.households[h] for h in changed}, self.names)

    def pco_rename_household(self, h: str) -> None:
        self.names[h] = f"Family {h} {next(self.serial)}"
        self._households(h)

    def pco_move_person(self, p: str, h: str) -> None:
        moved = [old for old, members in self.households.items() if p in members and old != h]
        for old in moved:
            self.households[old].remove(p)
        if p not in self.households[h]:
            self.households[h].append(p)
        self._households(h, *moved)

    def pco_remove_household(self, h: str) -> None:
        execute(self.engine, "UPDATE pco_landing SET removed_at = now() WHERE resource = 'people/households'"
                             " AND pco_id = :h AND removed_at IS NULL", h=h)

    def pco_move_address(self, p: str) -> None:
        land(self.engine, "people/people", [person(p, f"First{p}", f"Last{p}", updated_at=_later(), addresses=[
            address(f"{next(self.serial)} Oak Ave", "Irvine", id=f"a{p}")])])
        load_people(self.engine, incremental=True)

    def _memberships(self, *ids: str) -> None:
        land(self.engine, "groups/memberships", [membership(m, *self.memberships[m][:2], role=self.memberships[m][2])
                                                 for m in ids])

    def pco_role(self, p: str, role: str) -> None:
        if f"m{p}" in self.memberships:
            g, _, _ = self.memberships[f"m{p}"]
            self.memberships[f"m{p}"] = (g, p, role)
            self._memberships(f"m{p}")

    def pco_join_group(self, p: str, g: str) -> None:
        m = f"m{p}{g}{next(self.serial)}"
        self.memberships[m] = (g, p, "member")
        self._memberships(m)

    def pco_leave_group(self, p: str) -> None:
        gone = [m for m, (_, who, _) in self.memberships.items() if who == p]
        for m in gone:
            del self.memberships[m]
        execute(self.engine, "UPDATE pco_landing SET removed_at = now() WHERE resource = 'groups/memberships'"
                             " AND pco_id = ANY(:ids) AND removed_at IS NULL", ids=gone)

    def pco_rename_group(self, g: str) -> None:
        land(self.engine, "groups/groups", [group(g, f"Group {g} {next(self.serial)}", "t1")])

    def pco_new_person(self, h: str, g: str) -> None:
        """A person PCO added to a household and a group, landed before the people load runs."""
        p = str(next(self.serial))
        self.households[h].append(p)
        self._households(h)
        self.memberships[f"m{p}"] = (g, p, "member")
        self._memberships(f"m{p}")
        land(self.engine, "people/people", [person(p, f"First{p}", f"Last{p}")])

    def church_rename_family(self, h: str) -> None:
        execute(self.engine, "UPDATE families SET name = :n WHERE pco_id = :h", n=f"Church {next(self.serial)}", h=h)

    def church_remove_member(self, p: str) -> None:
        execute(self.engine, "DELETE FROM family_members WHERE person_id = (SELECT id FROM people WHERE pco_id = :p)",
                p=p)

    def church_role(self, p: str, role: str) -> None:
        execute(self.engine, "UPDATE group_membership SET leader_type = :r"
                             " WHERE person_id = (SELECT id FROM people WHERE pco_id = :p)", r=role, p=p)

    def church_rename_group(self, g: str) -> None:
        execute(self.engine, "UPDATE church_group SET name = :n WHERE pco_id = :g", n=f"Ours {next(self.serial)}", g=g)


def _incremental_equals_full(pg_server_url, template_database, rounds) -> None:
    """Rounds of random changes on both sides, each followed by the incremental loads (once before
    the people load, so memberships and members wait for their person, and once after): a full
    load then finds nothing the incremental ones missed and leaves the church as they did."""
    with fresh_database(pg_server_url, template_database, f"pco_incr_{os.getpid()}_{next(_databases)}") as engine:
        _church(engine)
        world = _World(engine)
        for changes in rounds:
            for change in changes:
                world.apply(change)
            for load in (*_LOADS, _incremental(load_people), *_LOADS):
                assert not load(engine).full
            incremental = rows(engine, CHURCH_STATE)
            _nightly_full_refresh(engine)
            for load in (_incremental(load_people), *_LOADS):
                full = load(engine)
                assert full.full and full.drifted_records == 0, (load, full)
            assert rows(engine, CHURCH_STATE) == incremental


_ROUNDS = st.lists(st.lists(_CHANGE, min_size=1, max_size=4), min_size=1, max_size=3)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_ROUNDS)
def test_incremental_loads_leave_what_full_loads_leave(pg_server_url, template_database, rounds):
    _incremental_equals_full(pg_server_url, template_database, rounds)


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_ROUNDS)
def test_incremental_loads_leave_what_full_loads_leave_many_examples(pg_server_url, template_database, rounds):
    _incremental_equals_full(pg_server_url, template_database, rounds)


_databases = itertools.count()
