"""push_people at the rate limit: 5,000 new church people, each with one email and one phone, into PCO.

The sandbox runs as a user meets it — `pco-pipeline sandbox` in its own process over loopback
HTTP — with PCO's rate limit compressed tenfold in time (100 requests / 2 s instead of / 20 s)
and the network latency compressed alike (20 ms for a typical ~200 ms round trip to PCO). The
church database is a fresh database on the benchmark's own embedded PostgreSQL
(`.pco_pipeline/bench-pgdata`), holding N unlinked people with an email and a phone each (set up
untimed); `sync.people_push.run_people_push` then pushes them with its default worker pool, storing
every PCO id back person by person, exactly as the `push_people` job does.

Printed per run and as medians: requests per person (target ≤ 3: the person, the email, the
phone), 429s, wall time, the achieved request rate as a fraction of the allowed rate (target
≥ 0.9; the allowance counts the opening full window too), and the projected time of the same push at PCO's real limit (100 / 20 s) beside the
~2.5 hours the integration this project replaces needed for the same work.

    .venv/bin/python -m bench bench_push                       # 3 runs of 5,000 (~5 minutes each)
    .venv/bin/python -m bench.bench_push --people 500 --runs 1 # a quick look
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

from bench._support import drop_database, free_port, fresh_database, start_sandbox
from pco_pipeline.pco import BasicCredentials, PCOClient, PCOConfig
from pco_pipeline.pco.ratelimit import RateBudget
from pco_pipeline.sync.people_push import DEFAULT_WORKERS, run_people_push

APP_ID, SECRET = "bench-push-app", "bench-push-secret"
LIMIT, PERIOD = 100, 2.0                 # the compressed limit
REAL_LIMIT, REAL_PERIOD = 100, 20.0      # PCO's
PREVIOUS_INTEGRATION_HOURS = 2.5         # what the integration this project replaces needed for 5,000
TARGET_REQUESTS_PER_PERSON = 3.0
TARGET_RATE_FRACTION = 0.9
TEMPLATE = "pco_bench_push_template"


@dataclass
class Run:
    people: int
    requests: int
    rate_limited: int
    wall: float

    @property
    def per_person(self) -> float:
        return self.requests / self.people

    @property
    def rate_fraction(self) -> float:
        """Requests made as a fraction of the most the limit allows in the same time: a full window
        at the start, then LIMIT per PERIOD (so a short run's opening burst does not flatter it)."""
        return self.requests / (LIMIT + LIMIT / PERIOD * self.wall)

    @property
    def projected_seconds(self) -> float:
        """The same requests at PCO's real limit, used as fully as this run used the compressed one."""
        return self.requests * REAL_PERIOD / REAL_LIMIT / self.rate_fraction


def _church(name: str, people: int) -> sa.Engine:
    """A fresh migrated database holding `people` unlinked people with an email and a phone each."""
    engine = sa.create_engine(fresh_database(name, template=TEMPLATE), pool_size=DEFAULT_WORKERS + 2)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO people (first_name, last_name, birthdate)"
            " SELECT 'Bench' || i, 'Person', date '1950-01-01' + (i % 20000) FROM generate_series(1, :n) i"),
            {"n": people})
        conn.execute(sa.text(
            "INSERT INTO person_emails (person_id, address, address_normalized, location, is_primary)"
            " SELECT id, 'bench' || id || '@example.org', 'bench' || id || '@example.org', 'Home', true FROM people"))
        conn.execute(sa.text(
            "INSERT INTO person_phones (person_id, number, e164, location, is_primary)"
            " SELECT id, '(217) 5' || lpad(CAST(id AS text), 6, '0'), '+12175' || lpad(CAST(id AS text), 6, '0'),"
            " 'Mobile', true FROM people"))
        # What the inbound people sync leaves behind: PCO's people were read completely.
        conn.execute(sa.text("INSERT INTO pco_listing (resource, started_at, finished_at) VALUES"
                             " ('people/people', now(), now())"))
    return engine


def run_once(people: int, latency_ms: float, workers: int, attempt: int) -> Run:
    name = f"pco_bench_push_{os.getpid()}_{attempt}"
    engine = _church(name, people)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    sandbox = start_sandbox(["-m", "pco_pipeline.cli", "sandbox", "--port", str(port), "--people", "1",
                             "--rate-limit", f"{LIMIT}/{PERIOD:g}s", "--latency-ms", str(latency_ms),
                             "--app-id", APP_ID, "--secret", SECRET], port, timeout_s=120)
    try:
        config = PCOConfig(base_url=base_url, basic=BasicCredentials(APP_ID, SECRET))
        with PCOClient(config, budget=RateBudget()) as client:
            started = time.perf_counter()
            report = run_people_push(engine, client, run_id=f"bench-{attempt}", workers=workers)
            wall = time.perf_counter() - started
        counters = httpx.get(f"{base_url}/_sandbox/counters").json()
        totals = report.counts.totals()
        if totals["created"] != 3 * people or totals["failed"] or totals["skipped"]:
            raise RuntimeError(f"the push did not create every person, email and phone: {totals}")
        with engine.connect() as conn:
            unlinked = conn.execute(sa.text("SELECT count(*) FROM people WHERE pco_id IS NULL")).scalar_one()
        if unlinked:
            raise RuntimeError(f"{unlinked} people were not linked to PCO")
        return Run(people=people, requests=counters["requests"], rate_limited=counters["rate_limited"], wall=wall)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        engine.dispose()
        drop_database(name)


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def push_bench_arguments(prog: str, doc: str | None, argv: list[str] | None) -> argparse.Namespace:
    """The options of a push benchmark against the sandbox: --people, --runs, --workers, --latency-ms."""
    parser = argparse.ArgumentParser(prog=prog, description=(doc or "").partition("\n")[0])
    parser.add_argument("--people", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    return parser.parse_args(argv or [])


def main(argv: list[str] | None = None) -> int:
    args = push_bench_arguments("bench_push", __doc__, argv)
    print(f"sandbox: {LIMIT} requests / {PERIOD:g} s (PCO's {REAL_LIMIT} / {REAL_PERIOD:g} s, compressed 10x), "
          f"{args.latency_ms:g} ms latency; {args.people:,} new people with one email and one phone; "
          f"{args.workers} workers; {args.runs} run(s)", flush=True)
    runs = []
    for attempt in range(args.runs):
        run = run_once(args.people, args.latency_ms, args.workers, attempt)
        runs.append(run)
        print(f"  run {attempt + 1}: {run.requests:,} requests ({run.per_person:.2f}/person), {run.rate_limited} 429s, "
              f"{run.wall:.1f} s, {run.requests / run.wall:.1f} req/s = {run.rate_fraction:.3f} of the allowed rate "
              f"(machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", flush=True)

    def median(attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in runs)

    previous = PREVIOUS_INTEGRATION_HOURS * 3600 * args.people / 5_000
    projected = median("projected_seconds")
    print(f"\nmedians of {len(runs)} run(s); projected = the same requests at {REAL_LIMIT} / {REAL_PERIOD:g} s, "
          "at the achieved fraction of the allowed rate")
    print("| people | requests/person | 429s | wall s | achieved req/s | allowed req/s | of allowed rate |"
          " projected at PCO's limit | previous integration | projected vs previous |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.people:,} | {median('per_person'):.2f} | {median('rate_limited'):.0f} | {median('wall'):.1f} | "
          f"{statistics.median(r.requests / r.wall for r in runs):.1f} | {LIMIT / PERIOD:.1f} | "
          f"{median('rate_fraction'):.3f} | {_duration(projected)} | {_duration(previous)} | "
          f"{projected / previous:.2f}x |")
    print(f"targets: requests/person ≤ {TARGET_REQUESTS_PER_PERSON:g}, of allowed rate ≥ {TARGET_RATE_FRACTION:g}")
    met = median("per_person") <= TARGET_REQUESTS_PER_PERSON and median("rate_fraction") >= TARGET_RATE_FRACTION
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
