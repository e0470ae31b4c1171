"""The synthetic church: generating it, and loading its local dataset into PostgreSQL.

Each run is a fresh Python process, so its peak RSS is its own (PostgreSQL's memory is not
included). Timed separately:
- generate: `pco_pipeline.demo_data.generate_church(people=N)` — every PCO collection and the local dataset;
- load: `db.local_dataset.load_local_dataset` into a freshly migrated database on the benchmark's
  embedded PostgreSQL (`.pco_pipeline/bench-pgdata`).

Limits: the sandbox must serve a 2,000-person church within 10 s of start-up (issue 3), and the
generator should make 20,000 people "in a few seconds" (taken as 5 s). The generator is
single-threaded, so the limits are checked against its CPU time, which a busy shared machine
does not inflate (wall time is printed beside it).

    .venv/bin/python -m bench bench_seed                      # 3 runs at 2,000 and at 20,000
    .venv/bin/python -m bench.bench_seed --sizes 2000 --runs 1
"""

from __future__ import annotations

import json
import resource
import sys
import time

import sqlalchemy as sa

from bench._support import drop_database, fresh_database, median_of, run_worker, sized_runs_arguments
from pco_pipeline.db.local_dataset import load_local_dataset

LIMITS_S = {2_000: 10.0, 20_000: 5.0}
DATABASE = "pco_bench_seed"


def run_once(people: int) -> dict:
    from pco_pipeline.demo_data import generate_church

    started, cpu_started = time.perf_counter(), time.process_time()
    church = generate_church(people=people)
    generate_s, generate_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    engine = sa.create_engine(fresh_database(DATABASE), poolclass=sa.pool.NullPool)
    started = time.perf_counter()
    loaded = load_local_dataset(engine, church.local)
    load_s = time.perf_counter() - started
    engine.dispose()
    drop_database(DATABASE)
    return {"generate_s": generate_s, "generate_cpu_s": generate_cpu_s, "load_s": load_s, "local_rows": sum(loaded.values()),
            "pco_resources": sum(len(v) for v in church.pco.values()),
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    args = sized_runs_arguments("bench_seed", [2_000, 20_000], argv)
    if args.worker:
        print(json.dumps(run_once(args.worker)))
        return 0
    results: dict[int, list[dict]] = {}
    for n in args.sizes:
        results[n] = []
        for attempt in range(args.runs):
            run = run_worker("bench_seed", n)
            results[n].append(run)
            print(f"  {n:>7,} people, run {attempt + 1}: generate {run['generate_s']:.2f} s "
                  f"({run['generate_cpu_s']:.2f} s CPU), "
                  f"load {run['load_s']:.2f} s, peak RSS {run['rss_mib']:.0f} MiB", flush=True)
    print(f"\nmedians of {args.runs} run(s); generate = every PCO collection + the local dataset; "
          f"CPU = the process's own, steady when the machine is shared")
    print("| people | PCO resources | local rows | generate s | generate CPU s | generate vs limit | load s |"
          " local rows/s | peak RSS MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    status = 0
    for n, runs in results.items():
        generate_s, generate_cpu_s = median_of(runs, "generate_s"), median_of(runs, "generate_cpu_s")
        load_s = median_of(runs, "load_s")
        rows = runs[0]["local_rows"]
        limit = LIMITS_S.get(n)
        # single-threaded: on an idle machine wall ≈ CPU, and CPU is what other load cannot inflate
        ratio = f"{generate_cpu_s / limit:.2f}× of {limit:.0f} s" if limit else "—"
        print(f"| {n:,} | {runs[0]['pco_resources']:,} | {rows:,} | {generate_s:.2f} | {generate_cpu_s:.2f} | "
              f"{ratio} | {load_s:.2f} | "
              f"{rows / load_s:,.0f} | {median_of(runs, 'rss_mib'):.0f} |")
        if limit and generate_cpu_s > limit:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
