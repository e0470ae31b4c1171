"""Load only (no HTTP): land, match and upsert N PCO people into a church already holding N people.

Each PCO person has one email and one phone. Of the N, a quarter match a local person by email
(different case and spacing), a quarter by first name + last name + birthdate (their email is
new), and half are new. Every configuration runs in a fresh database on the benchmark's own
embedded PostgreSQL (`.pco_pipeline/bench-pgdata`) and in a fresh Python process, so the peak
RSS of each run is its own (the PostgreSQL server's memory is not included). Besides wall time,
the load's CPU time (this process + the benchmark's own server) is reported: on a shared machine
it moves far less than wall time does.

Timed separately:
- landing: `sync.landing.land_page` for pages of 100 people with their included emails and
  phones (JSON:API documents parsed by `pco.jsonapi`; building and parsing them is not timed);
- load: `sync.load_people.load_people` (stage, match, upsert people, emails, phones);
- first re-run: an incremental load (`load_people(..., incremental=True)`, what every sync runs)
  right after the load, nothing changed (it refreshes the planner statistics the load made stale);
- idle re-run: the next one, nothing changed (the cost of an idle incremental run);
- 1% changed: 1% of the people landed again with a new last name, then an incremental load;
- full re-run: a full comparison of everyone (`load_people(...)`, what the load does after the
  nightly full refresh), nothing changed, with its drift check (0 drifted expected).

Then, on the same church, the families load (3N/10 households holding the N people, each with its
primary contact's address: 30,000 households and 100,000 members at 100,000) and the group
memberships load (N memberships in N/100 groups), each: first load (no watermark: full), first
re-run, idle re-run, 1% of the households renamed / memberships made leaders in PCO then an
incremental load, and a full re-run with its drift check (0 drifted expected).

Then, in a database of its own, a church upgrading from the one-way version: N people landed
(with an email and a phone each) and the same N in the church, linked by pco_id, 0.5% renamed in
PCO and another 0.5% in the church, and no base (`sync_base` empty). Timed: the first people
load (`load_people`, full: every linked record settled, its base written) and then the people
push's planning (`people_updates.plan_updates`, nothing left to send).

Targets (issue 5): load of 100,000 ≤ 60 s on 2 cores, peak RSS ≤ 1 GiB, and the load's cost
growing ≤ 12× from 10,000 to 100,000; the same for the upgrading church's first load. Issue 17:
at 100,000 people (and the families and memberships above) an idle incremental run ≤ 0.3 s and
one with 1% changed ≤ 1.5 s.

    .venv/bin/python -m bench bench_load            # 3 runs at 10k, 3 at 100k
    .venv/bin/python -m bench.bench_load --sizes 10000 --runs 1
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from typing import TypeVar
from pathlib import Path

import sqlalchemy as sa

from bench._support import drop_database, fresh_database, median_of, pgdata, run_worker, sized_runs_arguments
from bench.bench_idle_run import _POPULATE, _plan_push
from pco_pipeline.pco.jsonapi import parse_document
from pco_pipeline.sync import landing
from pco_pipeline.sync.catalog import spec_for
from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_groups import load_group_memberships, load_groups
from pco_pipeline.sync.load_people import load_people

TARGET_SECONDS_100K = 60.0
TARGET_RSS_MIB = 1024.0
TARGET_GROWTH = 12.0
TARGET_IDLE_SECONDS_100K = 0.3
TARGET_ONE_PERCENT_SECONDS_100K = 1.5
PAGE_SIZE = 100
TEMPLATE = "pco_bench_template"
EPOCH = date(1940, 1, 1)
T = TypeVar("T")


def _birthdate(i: int) -> str:
    return (EPOCH + timedelta(days=(i * 37) % 25_000)).isoformat()


def _server_cpu_seconds() -> float:
    """CPU time of the benchmark's PostgreSQL server so far: its live processes plus the children it
    has reaped (parallel workers). The server is the benchmark's own, so this is the load's work."""
    ticks = os.sysconf("SC_CLK_TCK")
    postmaster = int((pgdata() / "postmaster.pid").read_text().split()[0])
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == postmaster:
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / ticks
        elif ppid == postmaster:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _cpu() -> float:
    """Python process CPU + server CPU, in seconds."""
    return time.process_time() + _server_cpu_seconds()


def _seed_local_church(engine: sa.Engine, n: int) -> None:
    """N local people without pco_id, each with an email and a phone (set-based: setup, not timed)."""
    with engine.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO people (id, first_name, last_name, birthdate)
            SELECT i, 'First' || i, 'Last' || (i % 5000), DATE '1940-01-01' + ((i * 37) % 25000)
            FROM generate_series(1, :n) AS i"""), {"n": n})
        conn.execute(sa.text("SELECT setval('people_id_seq', :n)"), {"n": n})
        conn.execute(sa.text("""
            INSERT INTO person_emails (person_id, address, address_normalized, is_primary)
            SELECT i, 'person' || i || '@example.org', 'person' || i || '@example.org', true
            FROM generate_series(1, :n) AS i"""), {"n": n})
        conn.execute(sa.text("""
            INSERT INTO person_phones (person_id, number, e164, is_primary)
            SELECT i, '(714) ' || lpad((i / 10000)::text, 3, '0') || '-' || lpad((i % 10000)::text, 4, '0'),
                   '+1714' || lpad((i / 10000)::text, 3, '0') || lpad((i % 10000)::text, 4, '0'), true
            FROM generate_series(1, :n) AS i"""), {"n": n})
        conn.execute(sa.text("ANALYZE"))


def _pco_person(i: int, n: int) -> tuple[dict, list[dict]]:
    """PCO person i (1-based): a quarter match by email, a quarter by name + birthdate, half are new."""
    pid, eid, tid = str(100_000_000 + i), str(10_000_000 + i), str(200_000_000 + i)
    if i <= n // 4:
        first, last, birthdate, address = f"First{i}", f"Last{i % 5000}", None, f"  Person{i}@Example.ORG "
    elif i <= n // 2:
        first, last, birthdate, address = f"FIRST{i}", f"last{i % 5000}", _birthdate(i), f"pco{i}@example.net"
    else:
        first, last, birthdate, address = f"New{i}", f"Comer{i % 5000}", _birthdate(i + 7), f"new{i}@example.net"
    stamp = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z"
    person = {
        "type": "Person", "id": pid,
        "attributes": {"first_name": first, "last_name": last, "birthdate": birthdate, "child": False,
                       "grade": None, "gender": "Female" if i % 2 else "Male", "status": "active",
                       "membership": "Member", "middle_name": None, "nickname": None, "name": f"{first} {last}",
                       "created_at": stamp, "updated_at": stamp, "medical_notes": None, "remote_id": None},
        "relationships": {"emails": {"data": [{"type": "Email", "id": eid}]},
                          "phone_numbers": {"data": [{"type": "PhoneNumber", "id": tid}]},
                          "addresses": {"data": []}},
    }
    ref = {"person": {"data": {"type": "Person", "id": pid}}}
    included = [
        {"type": "Email", "id": eid, "relationships": ref,
         "attributes": {"address": address, "location": "Home", "primary": True, "blocked": False,
                        "created_at": stamp, "updated_at": stamp}},
        {"type": "PhoneNumber", "id": tid, "relationships": ref,
         "attributes": {"number": f"714.{(i // 10000) % 1000:03d}.{i % 10000:04d}", "country_code": "US",
                        "location": "Mobile", "primary": True, "carrier": None,
                        "created_at": stamp, "updated_at": stamp}},
    ]
    return person, included


def _pages(n: int, people: range | None = None) -> Iterator[list]:
    """Pages of PCO people `people` (default: all n); with `people` given, each with a new last
    name and a later updated_at (PCO changed them)."""
    chosen = list(people if people is not None else range(1, n + 1))
    for start in range(0, len(chosen), PAGE_SIZE):
        data, included = [], []
        for i in chosen[start:start + PAGE_SIZE]:
            person, extra = _pco_person(i, n)
            if people is not None:
                person["attributes"].update(last_name=f"Changed{i}", updated_at="2025-06-01T00:00:00Z")
            data.append(person)
            included.extend(extra)
        yield parse_document({"data": data, "included": included, "links": {}, "meta": {}}).records


def _household_members(n: int) -> dict[int, list[int]]:
    """Household k (1-based) of 3n/10 holds the PCO people i with (i - 1) % households == k - 1."""
    households = n * 3 // 10
    members: dict[int, list[int]] = {k: [] for k in range(1, households + 1)}
    for i in range(1, n + 1):
        members[(i - 1) % households + 1].append(i)
    return members


def _household_pages(n: int, chosen: Sequence[int] | None = None) -> Iterator[list]:
    """Pages of PCO households (all, or `chosen` renamed with a later updated_at: PCO changed them)."""
    members = _household_members(n)
    keys = list(chosen if chosen is not None else members)
    for start in range(0, len(keys), PAGE_SIZE):
        data = []
        for k in keys[start:start + PAGE_SIZE]:
            people = [str(100_000_000 + i) for i in members[k]]
            name = f"Renamed {k}" if chosen is not None else f"Household {k}"
            data.append({"type": "Household", "id": str(300_000_000 + k),
                         "attributes": {"name": name, "member_count": len(people), "primary_contact_id": people[0],
                                        "primary_contact_name": None, "avatar": None,
                                        "created_at": "2024-01-01T00:00:00Z",
                                        "updated_at": "2025-06-01T00:00:00Z" if chosen else "2024-01-01T00:00:00Z"},
                         "relationships": {"people": {"data": [{"type": "Person", "id": p} for p in people]},
                                           "primary_contact": {"data": {"type": "Person", "id": people[0]}}}})
        yield parse_document({"data": data, "included": [], "links": {}, "meta": {}}).records


def _address_pages(n: int) -> Iterator[list]:
    """One primary address per household's primary contact (the family address)."""
    contacts = [people[0] for people in _household_members(n).values()]
    for start in range(0, len(contacts), PAGE_SIZE):
        data = [{"type": "Address", "id": str(500_000_000 + i),
                 "attributes": {"street_line_1": f"{i} Main St", "street_line_2": None, "city": "Anaheim",
                                "state": "CA", "zip": "92801", "country_code": "US", "location": "Home",
                                "primary": True, "created_at": "2024-01-01T00:00:00Z",
                                "updated_at": "2024-01-01T00:00:00Z"},
                 "relationships": {"person": {"data": {"type": "Person", "id": str(100_000_000 + i)}}}}
                for i in contacts[start:start + PAGE_SIZE]]
        yield parse_document({"data": data, "included": [], "links": {}, "meta": {}}).records


def _groups(n: int) -> int:
    return max(n // 100, 1)


def _group_pages(n: int) -> Iterator[tuple[str, list]]:
    """(resource, page): ten group types, n/100 groups."""
    types = [{"type": "GroupType", "id": str(t), "attributes": {"name": f"Type {t}", "description": None}}
             for t in range(1, 11)]
    yield "groups/group_types", parse_document({"data": types, "included": [], "links": {}, "meta": {}}).records
    ids = list(range(1, _groups(n) + 1))
    for start in range(0, len(ids), PAGE_SIZE):
        data = [{"type": "Group", "id": str(600_000_000 + g),
                 "attributes": {"name": f"Group {g}", "description": None, "description_as_plain_text": None,
                                "schedule": None, "archived_at": None, "created_at": "2024-01-01T00:00:00Z"},
                 "relationships": {"group_type": {"data": {"type": "GroupType", "id": str(1 + g % 10)}}}}
                for g in ids[start:start + PAGE_SIZE]]
        yield "groups/groups", parse_document({"data": data, "included": [], "links": {}, "meta": {}}).records


def _membership_pages(n: int, chosen: Sequence[int] | None = None) -> Iterator[list]:
    """Pages of PCO memberships: person i in group (i - 1) % groups + 1 (all, or `chosen` made leaders)."""
    groups = _groups(n)
    keys = list(chosen if chosen is not None else range(1, n + 1))
    for start in range(0, len(keys), PAGE_SIZE):
        data = [{"type": "Membership", "id": str(400_000_000 + i),
                 "attributes": {"joined_at": "2024-02-01T10:00:00Z",
                                "role": "leader" if chosen is not None else "member"},
                 "relationships": {"group": {"data": {"type": "Group", "id": str(600_000_000 + (i - 1) % groups + 1)}},
                                   "person": {"data": {"type": "Person", "id": str(100_000_000 + i)}}}}
                for i in keys[start:start + PAGE_SIZE]]
        yield parse_document({"data": data, "included": [], "links": {}, "meta": {}}).records


def _timed(load: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = load()
    return time.perf_counter() - started, result


def _families_and_memberships(engine: sa.Engine, n: int) -> dict:
    """The families load (3n/10 households, n members, an address each) and the group memberships
    load (n memberships in n/100 groups), on the people `run_once` loaded: first load, first and
    idle re-runs, 1% of the records changed in PCO, and a full re-run."""
    for records in _address_pages(n):
        landing.land_page(engine, spec_for("people/addresses"), records)
    for records in _household_pages(n):
        landing.land_page(engine, spec_for("people/households"), records)
    for kind, records in _group_pages(n):
        landing.land_page(engine, spec_for(kind), records)
    load_groups(engine)
    for records in _membership_pages(n):
        landing.land_page(engine, spec_for("groups/memberships"), records)
    figures: dict[str, float] = {}
    households = n * 3 // 10
    for name, load, pages, changed, expect in (
            ("families", load_families, _household_pages, range(1, households + 1, 100),
             {"families": households, "family_members": n}),
            ("memberships", load_group_memberships, _membership_pages, range(1, n + 1, 100),
             {"group_memberships": n})):
        figures[f"{name}_load_s"], first = _timed(lambda: load(engine, incremental=True))  # no watermark: full
        if {entity: first[entity].created for entity in expect} != expect:
            raise AssertionError(f"{name} first load at {n}: {first}")
        figures[f"{name}_first_rerun_s"], _ = _timed(lambda: load(engine, incremental=True))
        figures[f"{name}_rerun_s"], idle = _timed(lambda: load(engine, incremental=True))
        if idle.full or idle.looked_at or any(counts.writes for counts in idle.values()):
            raise AssertionError(f"{name} idle re-run at {n} looked at {idle.looked_at} (full: {idle.full}): {idle}")
        kind = "people/households" if name == "families" else "groups/memberships"
        for records in pages(n, list(changed)):
            landing.land_page(engine, spec_for(kind), records)
        figures[f"{name}_one_percent_s"], one = _timed(lambda: load(engine, incremental=True))
        first_entity = next(iter(expect))
        if one.full or one[first_entity].updated != len(changed):
            raise AssertionError(f"{name} 1% changed at {n}: {one} (full: {one.full})")
        figures[f"{name}_full_rerun_s"], full = _timed(lambda: load(engine))  # a full comparison, its drift check
        if full.drifted_records != 0 or any(counts.writes for counts in full.values()):
            raise AssertionError(f"{name} full re-run at {n} found drift: {full.drifted_records}, {full}")
    return figures


# The upgrading church's edits before its first two-way load: 0.5% renamed in PCO, 0.5% in the church.
_UPGRADE_EDITS = """
UPDATE pco_landing SET normalized = jsonb_set(normalized, '{last_name}', to_jsonb('Pco-' || pco_id))
WHERE resource = 'people/people' AND CAST(pco_id AS integer) % 200 = 1;
UPDATE people SET last_name = 'Church-' || pco_id WHERE CAST(pco_id AS integer) % 200 = 2;
ANALYZE
"""


def _upgrade_first_load(n: int) -> dict:
    """The first people load, then the push's planning, of a church upgrading from the one-way
    version (n linked people with an email and a phone each, 1% renamed on one side, no base)."""
    name = f"pco_bench_upgrade_{n}_{os.getpid()}"
    engine = sa.create_engine(fresh_database(name, template=TEMPLATE), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for statement in filter(str.strip, (_POPULATE + ";" + _UPGRADE_EDITS).split(";")):
                conn.execute(sa.text(statement), {"n": n})
        load_s, result = _timed(lambda: load_people(engine))
        plan_s, (_, changes) = _timed(lambda: _plan_push(engine))
        with engine.connect() as conn:
            bases = dict(conn.execute(sa.text("SELECT entity, count(*) FROM sync_base GROUP BY entity")).all())
            conflicts = conn.execute(sa.text("SELECT count(*) FROM sync_conflicts")).scalar_one()
        # The church's rows are newer than PCO's records: each renamed person is a conflict the
        # shipped policy (pco) decides, applied by this load; every record ends with a base.
        renamed = 2 * (n // 200)
        if (result.counts["people"].updated, conflicts, changes) != (renamed, renamed, 0) or bases != {
                "people": n, "person_emails": n, "person_phones": n}:
            raise AssertionError(f"upgrade first load at {n}: {result.counts}, {conflicts} conflicts, "
                                 f"{changes} changes planned, bases {bases}")
        return {"upgrade_load_s": load_s, "upgrade_plan_s": plan_s}
    finally:
        engine.dispose()
        drop_database(name)


def run_once(n: int) -> dict:
    """One measured run in this process; returns the figures."""

    name = f"pco_bench_{n}_{os.getpid()}"
    url = fresh_database(name, template=TEMPLATE)
    # One pooled connection, so one server backend does everything: no backend exits while the
    # server's CPU time is being read.
    engine = sa.create_engine(url, pool_size=1, max_overflow=0)
    try:
        _seed_local_church(engine, n)
        spec = spec_for("people/people")
        landing_seconds = 0.0
        for records in _pages(n):
            started = time.perf_counter()
            landing.land_page(engine, spec, records, advance_cursor=True)
            landing_seconds += time.perf_counter() - started
        started, cpu = time.perf_counter(), _cpu()
        result = load_people(engine, incremental=True)  # the first: no watermark yet, a full load
        load_seconds, load_cpu = time.perf_counter() - started, _cpu() - cpu
        started = time.perf_counter()
        first_rerun = load_people(engine, incremental=True)
        first_rerun_seconds = time.perf_counter() - started
        started = time.perf_counter()
        rerun = load_people(engine, incremental=True)
        rerun_seconds = time.perf_counter() - started
        people = result.counts["people"]
        expected = {"created": n - n // 2, "updated": n // 2}
        if ({"created": people.created, "updated": people.updated} != expected or rerun.counts["people"].writes
                or first_rerun.counts["people"].writes):
            raise AssertionError(f"unexpected counts at {n}: {people} then {rerun.counts['people']}")
        if rerun.full or rerun.looked_at:
            raise AssertionError(f"the idle re-run at {n} looked at {rerun.looked_at} people (full: {rerun.full})")
        changed = range(1, n + 1, 100)
        for records in _pages(n, changed):
            landing.land_page(engine, spec, records, advance_cursor=True)
        started = time.perf_counter()
        one_percent = load_people(engine, incremental=True)
        one_percent_seconds = time.perf_counter() - started
        if one_percent.full or one_percent.counts["people"].updated != len(changed):
            raise AssertionError(f"1% changed at {n}: {one_percent.counts['people']} (full: {one_percent.full})")
        started = time.perf_counter()
        full = load_people(engine)
        full_seconds = time.perf_counter() - started
        if full.drifted_records != 0 or any(counts.writes for counts in full.counts.values()):
            raise AssertionError(f"the full re-run at {n} found drift: {full.drifted_records}, {full.counts}")
        return {**_families_and_memberships(engine, n), **_upgrade_first_load(n), "n": n, "landing_s": landing_seconds, "load_s": load_seconds, "load_cpu_s": load_cpu,
                "first_rerun_s": first_rerun_seconds, "rerun_s": rerun_seconds, "one_percent_s": one_percent_seconds, "full_rerun_s": full_seconds,
                "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "by_email": result.matches.by_email, "by_name_birthdate": result.matches.by_name_birthdate}
    finally:
        engine.dispose()
        drop_database(name)


def main(argv: list[str] | None = None) -> int:
    args = sized_runs_arguments("bench_load", [10_000, 100_000], argv)
    if args.worker:
        print(json.dumps(run_once(args.worker)))
        return 0

    results: dict[int, list[dict]] = {n: [] for n in args.sizes}
    # Rounds interleave the sizes, so a busy spell on the machine weighs on both alike.
    for attempt in range(args.runs):
        for n in args.sizes:
            run = run_worker("bench_load", n)
            results[n].append(run)
            print(f"  {n:>7,} people, run {attempt + 1}: landing {run['landing_s']:.1f} s, "
                  f"load {run['load_s']:.1f} s ({run['load_cpu_s']:.1f} CPU s), first re-run {run['first_rerun_s']:.2f} s, "
                  f"idle re-run {run['rerun_s']:.2f} s, "
                  f"1% changed {run['one_percent_s']:.2f} s, full re-run {run['full_rerun_s']:.1f} s, "
                  f"peak RSS {run['rss_mib']:.0f} MiB; families: load {run['families_load_s']:.1f} s, "
                  f"idle {run['families_rerun_s']:.2f} s, 1% {run['families_one_percent_s']:.2f} s, "
                  f"full {run['families_full_rerun_s']:.1f} s; memberships: load {run['memberships_load_s']:.1f} s, "
                  f"idle {run['memberships_rerun_s']:.2f} s, 1% {run['memberships_one_percent_s']:.2f} s, "
                  f"full {run['memberships_full_rerun_s']:.1f} s; upgrading church: first load "
                  f"{run['upgrade_load_s']:.1f} s, push planning {run['upgrade_plan_s']:.2f} s "
                  f"(machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", flush=True)

    print(f"\nmedians of {args.runs} run(s); load = stage + match + upsert people, emails, phones; "
          f"landing timed apart; RSS = the Python process")
    print("| people | landing s | landing rows/s | load s | load CPU s | load people/s | first re-run s | idle re-run s |"
          " 1% changed s | full re-run s | peak RSS MiB | load vs 60 s | RSS vs 1 GiB | idle vs 0.3 s |"
          " 1% vs 1.5 s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    status = 0
    for n, runs in results.items():
        landing_s, load_s, rss = median_of(runs, "landing_s"), median_of(runs, "load_s"), median_of(runs, "rss_mib")
        landed_rows = 3 * n  # each person with one email and one phone
        time_ratio = load_s / (TARGET_SECONDS_100K * n / 100_000)
        idle_s, one_percent_s = median_of(runs, "rerun_s"), median_of(runs, "one_percent_s")
        # The targets are stated at 100,000 people; other sizes are held to the same figures.
        print(f"| {n:,} | {landing_s:.1f} | {landed_rows / landing_s:,.0f} | {load_s:.1f} | "
              f"{median_of(runs, 'load_cpu_s'):.1f} | {n / load_s:,.0f} | "
              f"{median_of(runs, 'first_rerun_s'):.2f} | {idle_s:.2f} | {one_percent_s:.2f} | {median_of(runs, 'full_rerun_s'):.1f} | "
              f"{rss:.0f} | {time_ratio:.2f}× | {rss / TARGET_RSS_MIB:.2f}× | "
              f"{idle_s / TARGET_IDLE_SECONDS_100K:.2f}× | {one_percent_s / TARGET_ONE_PERCENT_SECONDS_100K:.2f}× |")
        if n == 100_000 and (load_s > TARGET_SECONDS_100K or rss > TARGET_RSS_MIB
                             or idle_s > TARGET_IDLE_SECONDS_100K or one_percent_s > TARGET_ONE_PERCENT_SECONDS_100K):
            status = 1
    print("\n| load | people | first load s | first re-run s | idle re-run s | 1% changed s | full re-run s |"
          " idle vs 0.3 s | 1% vs 1.5 s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, runs in results.items():
        for name, what in (("families", f"families ({n * 3 // 10:,} households, {n:,} members)"),
                           ("memberships", f"group memberships ({n:,} in {_groups(n):,} groups)")):
            idle_s, one_percent_s = median_of(runs, f"{name}_rerun_s"), median_of(runs, f"{name}_one_percent_s")
            print(f"| {what} | {n:,} | {median_of(runs, f'{name}_load_s'):.1f} | "
                  f"{median_of(runs, f'{name}_first_rerun_s'):.2f} | {idle_s:.2f} | {one_percent_s:.2f} | "
                  f"{median_of(runs, f'{name}_full_rerun_s'):.1f} | {idle_s / TARGET_IDLE_SECONDS_100K:.2f}× | "
                  f"{one_percent_s / TARGET_ONE_PERCENT_SECONDS_100K:.2f}× |")
            if n == 100_000 and (idle_s > TARGET_IDLE_SECONDS_100K or one_percent_s > TARGET_ONE_PERCENT_SECONDS_100K):
                status = 1
    print("\n| upgrading church (linked, no base) | first load s | push planning s | load vs 60 s |")
    print("|---:|---:|---:|---:|")
    for n, runs in results.items():
        upgrade_s = median_of(runs, "upgrade_load_s")
        print(f"| {n:,} | {upgrade_s:.1f} | {median_of(runs, 'upgrade_plan_s'):.2f} | "
              f"{upgrade_s / (TARGET_SECONDS_100K * n / 100_000):.2f}× |")
        if n == 100_000 and upgrade_s > TARGET_SECONDS_100K:
            status = 1
    if 10_000 in results and 100_000 in results:
        upgrade_growth = median_of(results[100_000], "upgrade_load_s") / median_of(results[10_000], "upgrade_load_s")
        print(f"\nupgrading church's first load 10k → 100k: {upgrade_growth:.1f}× wall time "
              f"(limit {TARGET_GROWTH:.0f}×)")
        if upgrade_growth > TARGET_GROWTH:
            status = 1
        growth = median_of(results[100_000], "load_s") / median_of(results[10_000], "load_s")
        total_growth = ((median_of(results[100_000], "load_s") + median_of(results[100_000], "landing_s"))
                        / (median_of(results[10_000], "load_s") + median_of(results[10_000], "landing_s")))
        cpu_growth = median_of(results[100_000], "load_cpu_s") / median_of(results[10_000], "load_cpu_s")
        print(f"\nload cost 10k → 100k: {growth:.1f}× wall time (limit {TARGET_GROWTH:.0f}×: "
              f"{growth / TARGET_GROWTH:.2f} of it), {cpu_growth:.1f}× CPU time; landing + load: "
              f"{total_growth:.1f}× wall time")
        if growth > TARGET_GROWTH:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
