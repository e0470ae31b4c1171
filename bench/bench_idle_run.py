"""An incremental sync run's database work (no HTTP): the people load, then the people push's
planning, at N linked people (each with an email and a phone), as every scheduled run does them.

Setup (not timed): N PCO people landed (with their emails and phones) and the same N in the
church, linked, their bases seeded (`base.seed_base`); a first load and a first push planning
(a full comparison: the push's watermark), then one incremental run (it refreshes the planner
statistics the first ones made stale).

Timed, each the median of several rounds in one fresh database:
- idle incremental run: `load_people(..., incremental=True)` (what the sync job runs) then the
  people push's planning (`people_updates.plan_updates`: the three-way comparison of people,
  emails and phones, the conflicts recorded, the changes read, the safety brake), nothing changed;
- 1% changed: the same after 0.5% of the people were landed again with a new last name (PCO's
  edit: the load takes it) and another 0.5% were renamed in the church by plain SQL (the push's to
  send); between rounds PCO is made to hold the church's names and a run settles them (not timed);
- full comparison: the push's planning after the nightly full refresh (a complete listing of
  PCO's people finished: the drift check, every linked record compared, the drift counted, 0
  expected), against the planning as it was before the comparison was incremental (`before`: the
  same statements over every record: `merge.three_way_sql` into a temp table,
  `record_conflicts`, `church_changes`).

Targets (issue 17 item 3): at 100,000 people, idle incremental load + diff ≤ 0.3 s, 1% changed
≤ 1.5 s; the full comparison no worse than before (ratio ≤ 1.0 is the aim; the drift check adds
the candidates' lookup).

    .venv/bin/python -m bench bench_idle_run            # 1 run at 100k
    .venv/bin/python -m bench.bench_idle_run --sizes 10000 --runs 1
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from bench._support import drop_database, fresh_database, median_of, run_worker, sized_runs_arguments
from pco_pipeline.sync.base import seed_base
from pco_pipeline.sync.church_changes import church_changes
from pco_pipeline.sync.conflicts import record_conflicts
from pco_pipeline.sync.incremental import FULL_REFRESH_LISTING
from pco_pipeline.sync.load_people import load_people
from pco_pipeline.sync.merge import three_way_sql
from pco_pipeline.sync.people_updates import plan_updates
from pco_pipeline.sync.policies import load_policies
from pco_pipeline.sync.push import PushReport, PushSession
from pco_pipeline.sync.two_way_entities import ENTITIES

TARGET_IDLE_SECONDS = 0.3
TARGET_ONE_PERCENT_SECONDS = 1.5
TEMPLATE = "pco_bench_template"
DATABASE = "pco_bench_idle_run"
IDLE_ROUNDS = 7
CHANGED_ROUNDS = 3
FULL_ROUNDS = 3
PUSH_ENTITIES = ("people", "person_emails", "person_phones")

_POPULATE = """
INSERT INTO pco_landing (resource, pco_id, attributes, normalized, pco_updated_at)
SELECT 'people/people', i::text, '{}',
       jsonb_build_object('first_name', 'First' || i, 'last_name', 'Last' || i, 'nickname', NULL,
                          'middle_name', NULL, 'gender', CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END,
                          'birthdate', DATE '1940-01-01' + (i * 37) % 25000, 'child', false, 'grade', NULL,
                          'status', 'active', 'membership', 'Member'),
       TIMESTAMPTZ '2026-01-01T00:00:00Z'
FROM generate_series(1, :n) AS i;
INSERT INTO pco_landing (resource, pco_id, parent_pco_id, attributes, normalized, pco_updated_at)
SELECT 'people/emails', 'e' || i, i::text, '{}',
       jsonb_build_object('address', 'person' || i || '@example.org', 'address_normalized',
                          'person' || i || '@example.org', 'location', 'Home', 'is_primary', true),
       TIMESTAMPTZ '2026-01-01T00:00:00Z'
FROM generate_series(1, :n) AS i;
INSERT INTO pco_landing (resource, pco_id, parent_pco_id, attributes, normalized, pco_updated_at)
SELECT 'people/phone_numbers', 't' || i, i::text, '{}',
       jsonb_build_object('number', '(714) 555-' || lpad(i::text, 6, '0'), 'e164', '+1714' || lpad(i::text, 7, '0'),
                          'location', 'Mobile', 'is_primary', true),
       TIMESTAMPTZ '2026-01-01T00:00:00Z'
FROM generate_series(1, :n) AS i;
INSERT INTO people (id, pco_id, first_name, last_name, gender, birthdate, child, status, membership, pco_updated_at)
SELECT i, i::text, 'First' || i, 'Last' || i, CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END,
       DATE '1940-01-01' + (i * 37) % 25000, false, 'active', 'Member', TIMESTAMPTZ '2026-01-01T00:00:00Z'
FROM generate_series(1, :n) AS i;
SELECT setval('people_id_seq', :n);
INSERT INTO person_emails (person_id, pco_id, address, address_normalized, location, is_primary)
SELECT i, 'e' || i, 'person' || i || '@example.org', 'person' || i || '@example.org', 'Home', true
FROM generate_series(1, :n) AS i;
INSERT INTO person_phones (person_id, pco_id, number, e164, location, is_primary)
SELECT i, 't' || i, '(714) 555-' || lpad(i::text, 6, '0'), '+1714' || lpad(i::text, 7, '0'), 'Mobile', true
FROM generate_series(1, :n) AS i;
ANALYZE
"""

# Round r's edits: 0.5% of the people renamed in PCO (landed again, as the landing writes a
# changed record), another 0.5% renamed in the church (plain SQL, as staff's tools write).
_EDIT_PCO = """
UPDATE pco_landing SET normalized = jsonb_set(normalized, '{last_name}', to_jsonb('Pco' || :round || '-' || pco_id)),
                       pco_updated_at = now(), changed_at = now()
WHERE resource = 'people/people' AND CAST(pco_id AS integer) % 200 = :round
"""
_EDIT_CHURCH = """
UPDATE people SET last_name = 'Church' || :round || '-' || pco_id
WHERE CAST(pco_id AS integer) % 200 = 100 + :round
"""
# PCO confirmed the church's names (as the push's answers would make it hold them).
_PCO_HOLDS_CHURCH = """
UPDATE pco_landing l SET normalized = jsonb_set(l.normalized, '{last_name}', to_jsonb(p.last_name)),
                         pco_updated_at = now(), changed_at = now()
FROM people p
WHERE l.resource = 'people/people' AND l.pco_id = p.pco_id AND CAST(p.pco_id AS integer) % 200 = 100 + :round
"""

_FULL_REFRESH_FINISHED = """
INSERT INTO pco_listing (resource, started_at, finished_at, seen_count, removed_count)
VALUES (:resource, clock_timestamp(), clock_timestamp(), 0, 0)
"""


@dataclass
class Round:
    load_s: float
    plan_s: float
    report: PushReport
    changes: int        # the records the planning found to send

    @property
    def seconds(self) -> float:
        return self.load_s + self.plan_s


def _plan_push(engine: sa.Engine) -> tuple[PushReport, int]:
    """The people push's planning, as a real run does it before sending anything."""
    session = PushSession("people", engine, None, run_id=None, dry_run=False)
    plan = plan_updates(session, delete_people=True)
    return session.report, sum(len(changes) for changes in plan.changes.values())


def _run(engine: sa.Engine) -> Round:
    """One incremental sync run's database work: the people load, then the push's planning."""
    started = time.perf_counter()
    load_people(engine, incremental=True)
    loaded = time.perf_counter()
    report, changes = _plan_push(engine)
    return Round(loaded - started, time.perf_counter() - loaded, report, changes)


def _plan_before(engine: sa.Engine) -> None:
    """The push's planning of the three entities as it was before it was incremental: every
    linked record classified into a temp table, the conflicts recorded, the changes read."""
    policies = load_policies()
    with engine.begin() as conn:
        for name in PUSH_ENTITIES:
            entity, chosen = ENTITIES[name], policies.for_entity(name)
            table = f"push_before_{name}"
            conn.execute(sa.text(f"CREATE TEMP TABLE {table} ON COMMIT DROP AS "
                                 f"{three_way_sql(entity, chosen, changed_only=True).text}"), {"entity": name})
            conn.execute(sa.text(f"""
                INSERT INTO {table} (pco_id)
                SELECT DISTINCT sc.pco_id FROM sync_conflicts sc
                WHERE sc.entity = :entity AND sc.decided_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM {table} d WHERE d.pco_id = sc.pco_id)"""), {"entity": name})
            record_conflicts(conn, entity, chosen, classified=table)
            list(church_changes(conn, entity, chosen, classified=table))


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def worker(size: int) -> dict:
    url = fresh_database(DATABASE, template=TEMPLATE)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            for statement in filter(str.strip, _POPULATE.split(";")):
                conn.execute(sa.text(statement), {"n": size})
        with engine.begin() as conn:   # as the first two-way run after upgrading leaves them
            for name in PUSH_ENTITIES:
                seed_base(conn, ENTITIES[name])
        load_people(engine)
        first = _plan_push(engine)[0]
        _run(engine)   # the first incremental run refreshes the statistics the first ones made stale

        idle = [_run(engine) for _ in range(IDLE_ROUNDS)]
        changed = []
        for number in range(CHANGED_ROUNDS):
            with engine.begin() as conn:
                conn.execute(sa.text(_EDIT_PCO), {"round": number})
                conn.execute(sa.text(_EDIT_CHURCH), {"round": number})
            changed.append(_run(engine))
            with engine.begin() as conn:
                conn.execute(sa.text(_PCO_HOLDS_CHURCH), {"round": number})
            _run(engine)   # not timed: the load agrees on the church's names, nothing is left to send
        after = _run(engine)

        full, before, drifted = [], [], 0
        for _ in range(FULL_ROUNDS):
            with engine.begin() as conn:   # as the full refresh's people listing leaves it
                conn.execute(sa.text(_FULL_REFRESH_FINISHED), {"resource": FULL_REFRESH_LISTING})
            started = time.perf_counter()
            report = _plan_push(engine)[0]
            full.append(time.perf_counter() - started)
            drifted = sum(report.drifted_records.values())
            before.append(_timed(lambda: _plan_before(engine)))
    finally:
        engine.dispose()
        drop_database(DATABASE)
    return {"size": size, "idle_s": statistics.median(r.seconds for r in idle),
            "idle_load_s": statistics.median(r.load_s for r in idle),
            "idle_plan_s": statistics.median(r.plan_s for r in idle),
            "idle_comparisons": idle[-1].report.comparisons, "first_comparisons": first.comparisons,
            "changed_s": statistics.median(r.seconds for r in changed),
            "changed_load_s": statistics.median(r.load_s for r in changed),
            "changed_plan_s": statistics.median(r.plan_s for r in changed),
            "changed_records": changed[-1].changes, "settled_records": after.changes,
            "full_s": statistics.median(full), "before_s": statistics.median(before), "drifted": drifted,
            "full_comparisons": report.comparisons}


def main(argv: list[str] | None = None) -> int:
    args = sized_runs_arguments("bench_idle_run", [100_000], argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker)))
        return 0
    status = 0
    print(f"{'people':>8} {'runs':>4} {'idle load+diff s':>16} {'/0.3':>5} {'(load, diff)':>14} "
          f"{'1% changed s':>12} {'/1.5':>5} {'(load, diff)':>14} {'full diff s':>11} {'before s':>8} {'ratio':>5}  notes")
    for size in args.sizes:
        runs = [run_worker("bench_idle_run", size) for _ in range(args.runs)]
        idle, changed = median_of(runs, "idle_s"), median_of(runs, "changed_s")
        full, before = median_of(runs, "full_s"), median_of(runs, "before_s")
        last = runs[-1]
        idle_split = f"({median_of(runs, 'idle_load_s'):.3f}, {median_of(runs, 'idle_plan_s'):.3f})"
        changed_split = f"({median_of(runs, 'changed_load_s'):.3f}, {median_of(runs, 'changed_plan_s'):.3f})"
        print(f"{size:>8} {len(runs):>4} {idle:>16.3f} {idle / TARGET_IDLE_SECONDS:>5.2f} {idle_split:>14} "
              f"{changed:>12.3f} {changed / TARGET_ONE_PERCENT_SECONDS:>5.2f} {changed_split:>14} "
              f"{full:>11.2f} {before:>8.2f} {full / before:>5.2f}  "
              f"idle: {last['idle_comparisons']}; 1%: {last['changed_records']} records to send planned, "
              f"{last['settled_records']} after settling; full: {last['full_comparisons']}, "
              f"{last['drifted']} drifted")
        if size >= 100_000 and (idle > TARGET_IDLE_SECONDS or changed > TARGET_ONE_PERCENT_SECONDS):
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
