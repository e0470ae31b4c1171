"""The PCO client at the rate limit: a full people listing, ours against pypco, same server, same run.

The sandbox runs as a user meets it — `pco-pipeline sandbox` in its own process over loopback
HTTP — with a 20,000-person synthetic church, 200 ms injected latency on every API request and
PCO's default limit of 100 requests / 20 s. Each client lists every person with
`include=emails,phone_numbers,addresses`:
  (a) ours: `PCOClient.iter_records` (per_page=100, paced by the rate headers, pages fetched
      concurrently once total_count is known; default prefetch, plus one run each with 32 and
      64 requests in flight, for the record);
  (b) pypco 1.2.0: `PCO.iterate(..., per_page=100)` — its best setting (its default is 25).
Before the measured runs one unmeasured listing (at a lifted limit) warms the sandbox's render
cache, so both clients meet the same server. Between runs the sandbox's rate windows are reset
and our client starts with a fresh budget, so neither run inherits the other's spending.

Printed (median of --repeat runs): requests and 429s counted by the sandbox, wall time (and the
fastest and slowest run), the rate-limit floor (requests × period / limit: the fastest any
client can go for that many requests) and wall/floor, then the ratio ours/pypco. Targets:
requests = ceil(N/100) with 0 429s; wall ≤ 1.1 × floor; ours/pypco ≤ 0.5.

Where the time goes: pypco sends its 200 requests one after another (200 × 200 ms plus its
own and the server's time per page). Ours reads the first page, sends the rest of the first
window's 100 at once, and then must wait for the second window, which opens 20 s after PCO
counted the first request; a client that never risks a 429 learns of the reset from an answer
(one round trip), then sends the window's 100 requests (another): about 20.6 s before any CPU
is spent, so on a machine where pypco takes 42 s the ratio cannot go below about 0.49.

The default run (3 runs per client) takes about 4 minutes plus the church's seeding; `--quick`
(3,000 people, 10 requests / 2 s, 50 ms) is for development.

    .venv/bin/python -m bench bench_client          # the real run (also `make bench`)
    .venv/bin/python -m bench.bench_client --quick
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

from bench._support import free_port, start_sandbox
from pco_pipeline.pco import BasicCredentials, PCOClient, PCOConfig
from pco_pipeline.pco.ratelimit import RateBudget

APP_ID, SECRET = "bench-client-app", "bench-client-secret"
INCLUDE = ["emails", "phone_numbers", "addresses"]
FULL = {"people": 20_000, "limit": 100, "period": 20.0, "latency_ms": 200, "repeat": 3}
QUICK = {"people": 3_000, "limit": 10, "period": 2.0, "latency_ms": 50, "repeat": 3}
WALL_OVER_FLOOR_TARGET = 1.1
DEFAULT_PREFETCH = PCOConfig().prefetch
OTHER_PREFETCH = (32, 64)  # the same client with fewer requests in flight, one run each
OURS = f"ours (prefetch {DEFAULT_PREFETCH})"
PEER = "pypco 1.2.0 iterate"
RATIO_TARGET = 0.5


@dataclass
class Run:
    requests: int
    rate_limited: int
    records: int
    wall: float
    walls: tuple[float, ...] = ()  # every run's wall time, for the spread


def _start_sandbox(port: int, settings: dict) -> subprocess.Popen:
    """`pco-pipeline sandbox` with the run's church, limit and latency, once it answers."""
    return start_sandbox(["-m", "pco_pipeline.cli", "sandbox", "--port", str(port),
                          "--people", str(settings["people"]),
                          "--rate-limit", f"{settings['limit']}/{settings['period']:g}s",
                          "--latency-ms", str(settings["latency_ms"]), "--app-id", APP_ID, "--secret", SECRET],
                         port, timeout_s=300)


def _fresh_windows(base_url: str, settings: dict) -> dict:
    """Reset the sandbox's rate windows and request log; returns its counters (all zero)."""
    httpx.post(f"{base_url}/_sandbox/rate_limit",
               json={"rate_limit": f"{settings['limit']}/{settings['period']:g}s"}).raise_for_status()
    httpx.delete(f"{base_url}/_sandbox/requests").raise_for_status()
    return httpx.get(f"{base_url}/_sandbox/counters").json()


def _warm_up(base_url: str) -> None:
    """One unmeasured listing at a lifted limit: the sandbox renders each page once and caches it."""
    httpx.post(f"{base_url}/_sandbox/rate_limit", json={"rate_limit": "100000/20s"}).raise_for_status()
    _ours(base_url, DEFAULT_PREFETCH)


def _measured(base_url: str, settings: dict, listing) -> Run:
    _fresh_windows(base_url, settings)
    started = time.perf_counter()
    records = listing()
    wall = time.perf_counter() - started
    counters = httpx.get(f"{base_url}/_sandbox/counters").json()
    return Run(requests=counters["requests"], rate_limited=counters["rate_limited"], records=records, wall=wall,
               walls=(wall,))


def _ours(base_url: str, prefetch: int) -> int:
    config = PCOConfig(base_url=base_url, basic=BasicCredentials(APP_ID, SECRET), prefetch=prefetch)
    with PCOClient(config, budget=RateBudget()) as client:
        return sum(1 for _ in client.iter_records("/people/v2/people", include=INCLUDE))


def _pypco(base_url: str) -> int:
    import pypco

    pco = pypco.PCO(APP_ID, SECRET, api_base=base_url)
    return sum(1 for _ in pco.iterate("/people/v2/people", per_page=100, include=",".join(INCLUDE)))


def _median(runs: list[Run]) -> Run:
    return Run(requests=int(statistics.median(r.requests for r in runs)),
               rate_limited=int(statistics.median(r.rate_limited for r in runs)),
               records=runs[0].records, wall=statistics.median(r.wall for r in runs),
               walls=tuple(r.wall for r in runs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_client", description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3,000 people, 10 requests / 2 s, 50 ms latency")
    parser.add_argument("--repeat", type=int, default=None, help="runs per client (median reported)")
    parser.add_argument("--no-pypco", action="store_true", help="measure our client only")
    args = parser.parse_args(argv or [])
    settings = dict(QUICK if args.quick else FULL)
    repeat = args.repeat or settings["repeat"]
    people, limit, period = settings["people"], settings["limit"], settings["period"]
    needed = math.ceil(people / 100)
    floor = needed * period / limit

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    print(f"sandbox: {people:,} people, {limit} requests / {period:g} s, {settings['latency_ms']} ms latency; "
          f"include={','.join(INCLUDE)}; {repeat} run(s) per client", flush=True)
    process = _start_sandbox(port, settings)
    try:
        def measure(listing, runs: int = repeat) -> Run:
            return _median([_measured(base_url, settings, listing) for _ in range(runs)])

        _warm_up(base_url)

        results = {OURS: measure(lambda: _ours(base_url, DEFAULT_PREFETCH))}
        if not args.no_pypco:
            try:
                import pypco  # noqa: F401
            except ImportError:
                print("pypco is not installed (pip install -e '.[bench]'): peer skipped")
            else:
                results[PEER] = measure(lambda: _pypco(base_url))
        for prefetch in OTHER_PREFETCH:
            results[f"ours, prefetch {prefetch}"] = measure(lambda: _ours(base_url, prefetch), runs=1)
    finally:
        process.terminate()
        process.wait(timeout=30)

    print(f"\n{'client':<24} {'records':>8} {'requests':>9} {'429s':>5} {'wall s':>8} {'runs s':>13} "
          f"{'floor s':>8} {'wall/floor':>10}")
    for name, run in results.items():
        spread = f"{min(run.walls):.2f}-{max(run.walls):.2f}" if len(run.walls) > 1 else ""
        print(f"{name:<24} {run.records:>8,} {run.requests:>9} {run.rate_limited:>5} {run.wall:>8.2f} {spread:>13} "
              f"{floor:>8.1f} {run.wall / floor:>10.2f}")
    ours = results[OURS]
    checks = [
        (f"requests = ceil({people}/100) + 0 wasted = {needed}", ours.requests == needed and ours.rate_limited == 0,
         f"{ours.requests} requests, {ours.rate_limited} 429s"),
        (f"wall ≤ {WALL_OVER_FLOOR_TARGET} × floor", ours.wall <= WALL_OVER_FLOOR_TARGET * floor,
         f"{ours.wall / floor:.2f} × floor"),
        (f"all {people:,} records", ours.records == people, f"{ours.records:,}"),
    ]
    peer = results.get(PEER)
    if peer is not None:
        ratio = ours.wall / peer.wall
        print(f"\nours / pypco wall time: {ratio:.3f}   (pypco: {peer.requests} requests, {peer.rate_limited} 429s)")
        checks.append((f"ours / pypco ≤ {RATIO_TARGET}", ratio <= RATIO_TARGET, f"{ratio:.3f}"))
    print()
    for label, passed, value in checks:
        print(f"  {'ok  ' if passed else 'MISS'} {label}: {value}")
    return 0 if all(passed for _, passed, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
