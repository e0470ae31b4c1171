"""The three-way diff alone (no HTTP): classify every field of N linked people at once.

A church of N people, each linked to a landed PCO person with the same values, has its base
seeded (`sync.base.seed_base`); then 2% are edited in the church, 2% in PCO, and 0.5% on both
sides (the same fields, different values), as in bench_two_way. Timed:
- seed: `seed_base` over the N linked people (what runs after the first load);
- diff: `merge.three_way_sql` for the people entity (default policies) streamed to the end,
  every row read and its outcomes counted in Python (the whole church, not only changed rows);
- changed: the same with `changed_only` (what a run acts on), each row read as `FieldState`s;
- conflicts: `sync.conflicts.record_conflicts` (the diff again, recording the 0.5%).

Each run is a fresh database on the benchmarks' embedded PostgreSQL and a fresh Python process,
so the peak RSS is the run's own (the server's memory is not included; the statement streams).

Target (issue 16): the three-way diff for 100,000 linked people ≤ 10 s on 2 cores, peak RSS ≤ 256 MiB.

    .venv/bin/python -m bench bench_three_way            # 3 runs at 100k
    .venv/bin/python -m bench.bench_three_way --runs 1
"""

from __future__ import annotations

import collections
import json
import resource
import sys
import time

import sqlalchemy as sa

from bench._support import drop_database, fresh_database, median_of, run_worker, sized_runs_arguments
from pco_pipeline.sync.base import seed_base
from pco_pipeline.sync.conflicts import record_conflicts
from pco_pipeline.sync.merge import field_states, three_way_sql
from pco_pipeline.sync.policies import load_policies
from pco_pipeline.sync.two_way_entities import ENTITIES

TARGET_SECONDS = 10.0
TARGET_RSS_MIB = 256.0
TEMPLATE = "pco_bench_template"
DATABASE = "pco_bench_three_way"
STREAM_ROWS = 2_000

# Both sides start equal: person i is "First{i} Last{i}", born on a day of i, one of 13 grades.
_POPULATE = """
INSERT INTO pco_landing (resource, pco_id, attributes, normalized, pco_updated_at)
SELECT 'people/people', i::text, '{}',
       jsonb_build_object('first_name', 'First' || i, 'last_name', 'Last' || i, 'nickname', NULL,
                          'middle_name', NULL, 'gender', CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END,
                          'birthdate', DATE '1940-01-01' + (i * 37) % 25000, 'child', i % 5 = 0,
                          'grade', CASE WHEN i % 5 = 0 THEN i % 13 - 1 END, 'status', 'active',
                          'membership', 'Member'),
       TIMESTAMPTZ '2026-01-01T00:00:00Z'
FROM generate_series(1, :n) AS i;
INSERT INTO people (pco_id, first_name, last_name, gender, birthdate, child, grade, status, membership, updated_at)
SELECT i::text, 'First' || i, 'Last' || i, CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END,
       DATE '1940-01-01' + (i * 37) % 25000, i % 5 = 0, CASE WHEN i % 5 = 0 THEN i % 13 - 1 END, 'active',
       'Member', TIMESTAMPTZ '2026-01-01T00:00:00Z'
FROM generate_series(1, :n) AS i;
ANALYZE pco_landing;
ANALYZE people;
"""

# Of every 1,000 people: 20 edited in the church, 20 in PCO, 5 on both sides (the last name).
_EDIT = """
UPDATE people SET last_name = last_name || ' (church)', updated_at = now()
WHERE CAST(pco_id AS integer) % 1000 < 20 OR CAST(pco_id AS integer) % 1000 >= 995;
UPDATE pco_landing SET normalized = jsonb_set(normalized, '{last_name}', to_jsonb(normalized->>'last_name' || ' (PCO)')),
                       pco_updated_at = now()
WHERE resource = 'people/people'
  AND (CAST(pco_id AS integer) % 1000 BETWEEN 20 AND 39 OR CAST(pco_id AS integer) % 1000 >= 995);
ANALYZE pco_landing;
ANALYZE people;
"""


def worker(size: int) -> dict:
    url = fresh_database(DATABASE, template=TEMPLATE)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    people = ENTITIES["people"]
    policies = load_policies(environ={}).for_entity("people")
    try:
        with engine.begin() as conn:
            for statement in filter(str.strip, _POPULATE.split(";")):
                conn.execute(sa.text(statement), {"n": size})
        started = time.perf_counter()
        with engine.begin() as conn:
            seeded = seed_base(conn, people)
        seed_seconds = time.perf_counter() - started
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE sync_base"))
            for statement in filter(str.strip, _EDIT.split(";")):
                conn.execute(sa.text(statement))

        outcome_columns = [f"{spec.name}__outcome" for spec in people.fields]
        started = time.perf_counter()
        outcomes: collections.Counter[str] = collections.Counter()
        records = 0
        with engine.connect() as conn:
            result = conn.execution_options(yield_per=STREAM_ROWS).execute(three_way_sql(people, policies),
                                                                          {"entity": "people"})
            for row in result:
                records += 1
                outcomes.update(row._mapping[column] for column in outcome_columns)
        diff_seconds = time.perf_counter() - started

        # What a run acts on: only the records with something to do, as FieldStates.
        started = time.perf_counter()
        with engine.connect() as conn:
            changed = conn.execution_options(yield_per=STREAM_ROWS).execute(
                three_way_sql(people, policies, changed_only=True), {"entity": "people"})
            changed_records = sum(1 for row in changed if field_states(row, people.fields))
        changed_seconds = time.perf_counter() - started

        started = time.perf_counter()
        with engine.begin() as conn:
            conflicts = record_conflicts(conn, people, policies)
        conflict_seconds = time.perf_counter() - started
    finally:
        engine.dispose()
        drop_database(DATABASE)
    return {"size": size, "seeded": seeded, "records": records, "outcomes": dict(outcomes),
            "conflicts": conflicts, "seed_s": seed_seconds, "diff_s": diff_seconds, "changed": changed_records,
            "changed_s": changed_seconds, "conflicts_s": conflict_seconds,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    args = sized_runs_arguments("bench_three_way", [100_000], argv)
    if args.worker is not None:
        print(json.dumps(worker(args.worker)))
        return 0
    status = 0
    print(f"{'people':>8} {'runs':>4} {'seed s':>7} {'diff s':>7} {'/10 s':>6} {'changed s':>9} {'conflicts s':>11} "
          f"{'peak RSS MiB':>12} {'/256':>5}  outcomes (fields)")
    for size in args.sizes:
        runs = [run_worker("bench_three_way", size) for _ in range(args.runs)]
        diff = median_of(runs, "diff_s")
        rss = max(run["rss_mib"] for run in runs)
        last = runs[-1]
        print(f"{size:>8} {len(runs):>4} {median_of(runs, 'seed_s'):>7.2f} {diff:>7.2f} "
              f"{diff / TARGET_SECONDS:>6.2f} {median_of(runs, 'changed_s'):>9.2f} "
              f"{median_of(runs, 'conflicts_s'):>11.2f} {rss:>12.0f} {rss / TARGET_RSS_MIB:>5.2f}  {last['outcomes']} "
              f"({last['changed']} records changed, {last['conflicts']} conflicts recorded)")
        if size >= 100_000 and (diff > TARGET_SECONDS or rss > TARGET_RSS_MIB):
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
