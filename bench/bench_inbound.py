"""Inbound end to end: every PCO resource of a 5,000-person sandbox church, read and landed, then loaded.

The sandbox runs in-process over real loopback HTTP at PCO's own limit (100 requests / 20 s),
with the seeded church's overlapping local dataset in a fresh database of the benchmarks'
embedded PostgreSQL (`.pco_pipeline/bench-pgdata`). The extracts and loads are the ones the
`full_sync` job runs (`sync.extract.extract_resource`, `sync.load_*`), called directly so the
Dagster overhead is not in the figures.

Printed: per resource, how it is read (keyset, or a complete listing because PCO's reference
allows no keyset on it), the requests used against the minimum ceil(records / 100) (nested
memberships need at least one request per parent) and against the minimum of its read plan (a
complete listing's pages overlap by `LISTING_OVERLAP` rows, so past the first page each brings
100 − LISTING_OVERLAP new records), and wall times; then the people extract beside the
integration this project replaces (~50 requests and ~30 s for 5,000 people), and all extracts
against the rate-limit floor.

    .venv/bin/python -m bench bench_inbound              # 5,000 people, PCO's limit
    .venv/bin/python -m bench.bench_inbound --people 1000 --rate-limit off
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

import sqlalchemy as sa

from bench._support import fresh_database
from pco_pipeline.db.local_dataset import load_local_dataset
from pco_pipeline.pco import BasicCredentials, PCOClient, PCOConfig
from pco_sandbox.auth import DEMO_APP_ID, DEMO_SECRET
from pco_sandbox.core import Sandbox, SandboxConfig
from pco_pipeline.demo_data import generate_church
from pco_sandbox.server import run_sandbox_server
from pco_pipeline.sync.catalog import spec_for
from pco_pipeline.sync.extract import LISTING_OVERLAP, NESTED_PARENTS, extract_resource
from pco_pipeline.sync.load_checkins import load_checkins, load_events
from pco_pipeline.sync.load_families import load_families
from pco_pipeline.sync.load_groups import load_group_memberships, load_groups
from pco_pipeline.sync.load_people import load_people

REFERENCE_REQUESTS = 50      # the integration this project replaces, for 5,000 people
REFERENCE_SECONDS = 30.0
# full_sync's extract order (parents before nested listings)
RESOURCES = ("people/people", "people/person_mergers", "people/households", "groups/group_types", "groups/groups",
             "groups/memberships", "check-ins/events", "check-ins/locations", "check-ins/event_times",
             "check-ins/check_ins", "check-ins/headcounts", "calendar/events", "calendar/event_instances")


def _listing_pages(records: int, overlap: int) -> int:
    """Requests a listing of `records` needs at 100 a page when each page re-reads `overlap` rows."""
    return 1 if records <= 100 else 1 + math.ceil((records - 100) / (100 - overlap))


def _minimum_requests(resource: str, records: int, sandbox: Sandbox, overlap: int = 0) -> int:
    """ceil(records / 100) (per parent for nested listings); with `overlap`, a listing's own minimum."""
    if resource in NESTED_PARENTS:  # one listing per parent
        parent_key = NESTED_PARENTS[resource]
        via = spec_for(resource).parent_relationship or parent_key.split("/", 1)[1].rstrip("s")
        return sum(_listing_pages(len(sandbox.store.children(resource, via, parent.id)), overlap)
                   for parent in sandbox.store.all(parent_key))
    return _listing_pages(records, overlap) if overlap else max(1, math.ceil(records / 100))


def _one_run(args) -> tuple[list[tuple], float, float]:
    """(per-resource rows, extract seconds, load seconds) of one run on fresh sandbox and database."""
    engine = sa.create_engine(fresh_database("pco_bench_inbound"), poolclass=sa.pool.NullPool)
    church = generate_church(people=args.people, seed=1)
    load_local_dataset(engine, church.local)
    sandbox = Sandbox(SandboxConfig(app_id=DEMO_APP_ID, secret=DEMO_SECRET, rate_limit=args.rate_limit))
    sandbox.load(church.pco)

    rows = []
    with run_sandbox_server(sandbox) as base_url:
        config = PCOConfig(base_url=base_url, basic=BasicCredentials(DEMO_APP_ID, DEMO_SECRET))
        with PCOClient(config) as client:
            started = time.monotonic()
            for resource in RESOURCES:
                report = extract_resource(client, engine, resource)
                method = report.plan.method
                minimum = _minimum_requests(resource, report.records, sandbox)
                plan_minimum = _minimum_requests(resource, report.records, sandbox,
                                                 LISTING_OVERLAP if method != "keyset" else 0)
                rows.append((resource, method, report.records, report.requests.requests, minimum, plan_minimum,
                             report.requests.rate_limited, report.seconds))
            extract_seconds = time.monotonic() - started
    load_started = time.monotonic()
    for load in (load_people, load_families, load_groups, load_group_memberships, load_events, load_checkins):
        load(engine)
    load_seconds = time.monotonic() - load_started
    sandbox.close()
    engine.dispose()
    return rows, extract_seconds, load_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--rate-limit", default="100/20s")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv or [])

    runs = [_one_run(args) for _ in range(args.runs)]
    median = statistics.median
    # Requests and records are the same every run; times are medians.
    rows = [(*runs[0][0][i][:7], median(run[0][i][7] for run in runs)) for i in range(len(runs[0][0]))]
    extract_seconds = median(r[1] for r in runs)
    load_seconds = median(r[2] for r in runs)
    exit_code = 0

    print(f"inbound, {args.people} people, sandbox limit {args.rate_limit}, loopback HTTP, medians of {args.runs} run(s)")
    print(f"{'resource':<26} {'read as':<15} {'records':>8} {'requests':>8} {'minimum':>8} {'ratio':>6} "
          f"{'plan min':>8} {'429s':>5} {'seconds':>8}")
    for resource, method, records, requests, minimum, plan_minimum, limited, seconds in rows:
        print(f"{resource:<26} {method:<15} {records:>8} {requests:>8} {minimum:>8} {requests / minimum:>6.2f} "
              f"{plan_minimum:>8} {limited:>5} {seconds:>8.1f}")
        if requests > plan_minimum or limited:
            exit_code = 1
    total_requests = sum(r[3] for r in rows)
    print(f"{'all extracts':<26} {'':<15} {sum(r[2] for r in rows):>8} {total_requests:>8} "
          f"{sum(r[4] for r in rows):>8} {total_requests / sum(r[4] for r in rows):>6.2f} "
          f"{sum(r[5] for r in rows):>8} {sum(r[6] for r in rows):>5} {extract_seconds:>8.1f}")
    print(f"loads (match + upsert, all entities): {load_seconds:.1f} s")
    people = rows[0]
    print(f"\npeople vs the replaced integration: {people[3]} requests ({people[3] / REFERENCE_REQUESTS:.2f}× its "
          f"~{REFERENCE_REQUESTS}), {people[7]:.1f} s ({people[7] / REFERENCE_SECONDS:.2f}× its ~{REFERENCE_SECONDS:.0f} s)")
    floor = max(0, math.ceil(total_requests / 100) - 1) * 20 if args.rate_limit == "100/20s" else 0
    if floor:
        print(f"all extracts: {extract_seconds:.0f} s against a rate-limit floor of {floor} s "
              f"({extract_seconds / floor:.2f}×)")
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
