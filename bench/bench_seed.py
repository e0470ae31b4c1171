"""The synthetic church: generating it, and loading its local dataset into PostgreSQL.

Each run is a fresh Python process, so its peak RSS is its own (PostgreSQL's memory is not
included). Timed separately:
- generate: `sandbox.seed.generate_church(people=N)` — every PCO collection and the local dataset;
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

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import sqlalchemy as sa

from pco_pipeline.db import embedded
from pco_pipeline.db.local_dataset import load_local_dataset
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.paths import project_root, state_dir

LIMITS_S = {2_000: 10.0, 20_000: 5.0}
DATABASE = "pco_bench_seed"


def _url(database: str) -> str:
    return embedded.ensure_running(state_dir() / "bench-pgdata").url(database)


def run_once(people: int) -> dict:
    from pco_pipeline.sandbox.seed import generate_church

    started, cpu_started = time.perf_counter(), time.process_time()
    church = generate_church(people=people)
    generate_s, generate_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    admin = sa.create_engine(_url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
    engine = sa.create_engine(_url(DATABASE), poolclass=sa.pool.NullPool)
    apply_migrations(engine)
    started = time.perf_counter()
    loaded = load_local_dataset(engine, church.local)
    load_s = time.perf_counter() - started
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    admin.dispose()
    return {"generate_s": generate_s, "generate_cpu_s": generate_cpu_s, "load_s": load_s, "local_rows": sum(loaded.values()),
            "pco_resources": sum(len(v) for v in church.pco.values()),
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_seed")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 20_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv if argv is not None else [])
    if args.worker:
        print(json.dumps(run_once(args.worker)))
        return 0
    results: dict[int, list[dict]] = {}
    for n in args.sizes:
        results[n] = []
        for attempt in range(args.runs):
            out = subprocess.run([sys.executable, "-m", "bench.bench_seed", "--worker", str(n)],
                                 cwd=project_root(), capture_output=True, text=True, check=True)
            run = json.loads(out.stdout.strip().splitlines()[-1])
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
        generate_s = statistics.median(r["generate_s"] for r in runs)
        generate_cpu_s = statistics.median(r["generate_cpu_s"] for r in runs)
        load_s = statistics.median(r["load_s"] for r in runs)
        rows = runs[0]["local_rows"]
        limit = LIMITS_S.get(n)
        # single-threaded: on an idle machine wall ≈ CPU, and CPU is what other load cannot inflate
        ratio = f"{generate_cpu_s / limit:.2f}× of {limit:.0f} s" if limit else "—"
        print(f"| {n:,} | {runs[0]['pco_resources']:,} | {rows:,} | {generate_s:.2f} | {generate_cpu_s:.2f} | "
              f"{ratio} | {load_s:.2f} | "
              f"{rows / load_s:,.0f} | {statistics.median(r['rss_mib'] for r in runs):.0f} |")
        if limit and generate_cpu_s > limit:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
