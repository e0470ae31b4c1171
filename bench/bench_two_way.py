"""Two-way sync at the rate limit (issue 16): 5,000 linked people; 2% edited in the church (half
a last name, half an email address), 2% in PCO (a first name), 0.5% on both sides (the same
field, the last name, to different values: a conflict its policy decides).

The sandbox runs in its own process over loopback HTTP (`pco-pipeline sandbox --people N`, a
seeded church), with PCO's rate limit compressed tenfold in time (100 requests / 2 s) and 20 ms of
latency; the church database is a fresh one on the benchmarks' embedded PostgreSQL, filled by a
first pull (untimed), after which the edits are made (PCO's through its API). Timed: one pull
(`sync_webhook_resources`: extract and load) and then one people push, as staff run them.

Printed per run and as medians: the push's write requests against the minimum (one per record or
contact the church changed, plus the conflicts its policy gives the church; target ratio 1.00),
429s (target 0), the push's wall time against its rate floor (its requests at the compressed
rate, no opening burst counted; target ≤ 1.1) with its planning alone (a dry run), and the pull's requests and time. Each run checks
the result (church edits in PCO, PCO edits in the church, conflicts decided by policy and
recorded) and that one more pull and push writes nothing.

    .venv/bin/python -m bench bench_two_way                        # 3 runs of 5,000
    .venv/bin/python -m bench.bench_two_way --people 1000 --runs 1  # a quick look
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass

import httpx
import sqlalchemy as sa

from bench._support import drop_database, free_port, fresh_database, start_sandbox
from bench.bench_push import push_bench_arguments
from pco_pipeline.pco import BasicCredentials, PCOClient, PCOConfig
from pco_pipeline.pco.client import resource_body
from pco_pipeline.pco.ratelimit import RateBudget
from pco_pipeline.sync.people_push import run_people_push
from pco_pipeline.sync.policies import load_policies
from pco_pipeline.sync.webhook_baseline import sync_webhook_resources

APP_ID, SECRET = "bench-two-way-app", "bench-two-way-secret"
LIMIT, PERIOD = 100, 2.0                 # the compressed limit (PCO's is 100 / 20 s)
TARGET_FLOOR_RATIO = 1.1


@dataclass
class Run:
    writes: int
    minimum: int
    push_requests: int
    rate_limited: int
    push_wall: float
    pull_requests: int
    pull_wall: float
    plan_wall: float          # the push's planning alone (a dry run just before it)

    @property
    def write_ratio(self) -> float:
        return self.writes / self.minimum

    @property
    def floor(self) -> float:
        """The push's requests at the compressed rate, with no opening burst: the least time they need."""
        return self.push_requests / (LIMIT / PERIOD)

    @property
    def floor_ratio(self) -> float:
        return self.push_wall / self.floor


@dataclass(frozen=True)
class Edits:
    church_names: list[str]     # PCO ids of people whose last name the church changed
    church_emails: list[str]    # PCO ids of emails whose address the church changed
    pco_names: list[str]        # PCO ids of people whose first name PCO changed
    both: list[str]             # PCO ids of people whose last name both sides changed


def _counters(base_url: str) -> dict:
    return httpx.get(f"{base_url}/_sandbox/counters").json()


def _edit(engine: sa.Engine, client: PCOClient, people: int) -> Edits:
    """The edits on both sides (untimed): 1% + 1% church, 2% PCO, 0.5% both, disjoint people."""
    share = max(1, people // 100)
    with engine.connect() as conn:
        linked = list(conn.execute(sa.text(
            "SELECT p.pco_id FROM people p WHERE p.pco_id IS NOT NULL AND EXISTS"
            " (SELECT 1 FROM person_emails e WHERE e.person_id = p.id AND e.pco_id IS NOT NULL) ORDER BY p.id")).scalars())
    if len(linked) < 4.5 * share:
        raise RuntimeError(f"only {len(linked)} linked people with an email to edit")
    edits = Edits(linked[:share], [], linked[2 * share:4 * share], linked[4 * share:4 * share + share // 2])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE people SET last_name = last_name || '-Church' WHERE pco_id = ANY(:ids)"),
                     {"ids": edits.church_names + edits.both})
        emails = conn.execute(sa.text(
            "UPDATE person_emails e SET address = 'edited' || e.id || '@example.org',"
            " address_normalized = 'edited' || e.id || '@example.org'"
            " WHERE e.id IN (SELECT DISTINCT ON (e2.person_id) e2.id FROM person_emails e2 JOIN people p"
            " ON p.id = e2.person_id WHERE p.pco_id = ANY(:ids) AND e2.pco_id IS NOT NULL ORDER BY e2.person_id, e2.id)"
            " RETURNING e.pco_id"), {"ids": linked[share:2 * share]}).scalars()
        edits.church_emails.extend(emails)
    for pco_id in edits.pco_names:
        client.patch(f"/people/v2/people/{pco_id}", resource_body("Person", {"first_name": f"Pco{pco_id}"}, id=pco_id))
    for pco_id in edits.both:
        client.patch(f"/people/v2/people/{pco_id}", resource_body("Person", {"last_name": f"Pco{pco_id}"}, id=pco_id))
    return edits


def _minimum_writes(edits: Edits) -> int:
    """One write per record or contact whose church value must reach PCO."""
    church_wins = load_policies().policy("people", "last_name").value == "church"
    return len(edits.church_names) + len(edits.church_emails) + (len(edits.both) if church_wins else 0)


def _check(engine: sa.Engine, client: PCOClient, edits: Edits) -> None:
    """The edits went where the rule says, and the conflicts are recorded."""
    with engine.connect() as conn:
        taken = conn.execute(sa.text("SELECT count(*) FROM people WHERE pco_id = ANY(:ids)"
                                     " AND first_name = 'Pco' || pco_id"), {"ids": edits.pco_names}).scalar_one()
        conflicts = conn.execute(sa.text("SELECT count(*) FROM sync_conflicts WHERE entity = 'people'"
                                         " AND field = 'last_name' AND pco_id = ANY(:ids)"),
                                 {"ids": edits.both}).scalar_one()
    if taken != len(edits.pco_names) or conflicts != len(edits.both):
        raise RuntimeError(f"PCO's edits taken: {taken}/{len(edits.pco_names)}; "
                           f"conflicts recorded: {conflicts}/{len(edits.both)}")
    for pco_id in edits.church_names[:5]:
        if not str(client.get_resource(f"/people/v2/people/{pco_id}").attributes["last_name"]).endswith("-Church"):
            raise RuntimeError(f"the church's last name of PCO person {pco_id} did not reach PCO")


def run_once(people: int, latency_ms: float, workers: int, attempt: int) -> Run:
    name = f"pco_bench_two_way_{os.getpid()}_{attempt}"
    engine = sa.create_engine(fresh_database(name), pool_size=workers + 2)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    sandbox = start_sandbox(["-m", "pco_pipeline.cli", "sandbox", "--port", str(port), "--people", str(people),
                             "--rate-limit", f"{LIMIT}/{PERIOD:g}s", "--latency-ms", str(latency_ms),
                             "--app-id", APP_ID, "--secret", SECRET], port, timeout_s=300)
    try:
        config = PCOConfig(base_url=base_url, basic=BasicCredentials(APP_ID, SECRET))
        with PCOClient(config, budget=RateBudget()) as client:
            sync_webhook_resources(client, engine)          # the church as a first sync leaves it
            edits = _edit(engine, client, people)
            time.sleep(PERIOD)                              # the edits' requests out of the window

            before = _counters(base_url)
            started = time.perf_counter()
            sync_webhook_resources(client, engine)
            pull_wall = time.perf_counter() - started
            middle = _counters(base_url)
            started = time.perf_counter()
            run_people_push(engine, None, dry_run=True, workers=workers)
            plan_wall = time.perf_counter() - started
            started = time.perf_counter()
            report = run_people_push(engine, client, run_id=f"bench-two-way-{attempt}", workers=workers)
            push_wall = time.perf_counter() - started
            after = _counters(base_url)

            totals = report.counts.totals()
            if totals["failed"] or totals["skipped"]:
                raise RuntimeError(f"the push did not send every change: {totals}")
            _check(engine, client, edits)
            sync_webhook_resources(client, engine)
            again = run_people_push(engine, client, run_id=f"bench-two-way-{attempt}-again", workers=workers)
            if sum(again.counts.totals()[k] for k in ("created", "updated", "deleted")):
                raise RuntimeError(f"one more pull and push wrote again (ping-pong): {again.counts.totals()}")
        return Run(writes=totals["created"] + totals["updated"] + totals["deleted"], minimum=_minimum_writes(edits),
                   push_requests=after["requests"] - middle["requests"],
                   rate_limited=after["rate_limited"] - before["rate_limited"], push_wall=push_wall,
                   pull_requests=middle["requests"] - before["requests"], pull_wall=pull_wall,
                   plan_wall=plan_wall)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        engine.dispose()
        drop_database(name)


def main(argv: list[str] | None = None) -> int:
    args = push_bench_arguments("bench_two_way", __doc__, argv)
    print(f"sandbox: {LIMIT} requests / {PERIOD:g} s (PCO's 100 / 20 s, compressed 10x), {args.latency_ms:g} ms "
          f"latency; {args.people:,} linked people, 2% edited in the church, 2% in PCO, 0.5% both; "
          f"{args.workers} workers; {args.runs} run(s)", flush=True)
    runs = []
    for attempt in range(args.runs):
        run = run_once(args.people, args.latency_ms, args.workers, attempt)
        runs.append(run)
        print(f"  run {attempt + 1}: push {run.writes} writes (minimum {run.minimum}, {run.write_ratio:.2f}x), "
              f"{run.push_requests} requests, {run.rate_limited} 429s, {run.push_wall:.2f} s "
              f"(floor {run.floor:.2f} s, {run.floor_ratio:.2f}x; planning alone {run.plan_wall:.2f} s); pull {run.pull_requests} requests, "
              f"{run.pull_wall:.1f} s (machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)",
              flush=True)

    def median(attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in runs)

    print(f"\nmedians of {len(runs)} run(s); floor = the push's requests at {LIMIT} / {PERIOD:g} s without an "
          "opening burst (×10 at PCO's limit)")
    print("| people | push writes | minimum | writes / minimum | 429s | push requests | push wall s | floor s |"
          " wall / floor | planning alone s | pull requests | pull wall s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {args.people:,} | {median('writes'):.0f} | {median('minimum'):.0f} | {median('write_ratio'):.2f} | "
          f"{median('rate_limited'):.0f} | {median('push_requests'):.0f} | {median('push_wall'):.2f} | "
          f"{median('floor'):.2f} | {median('floor_ratio'):.2f} | {median('plan_wall'):.2f} | {median('pull_requests'):.0f} | "
          f"{median('pull_wall'):.1f} |")
    print(f"targets: writes / minimum = 1.00, 0 429s, wall / floor ≤ {TARGET_FLOOR_RATIO:g}")
    met = (median("write_ratio") == 1.0 and median("rate_limited") == 0
           and median("floor_ratio") <= TARGET_FLOOR_RATIO)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
