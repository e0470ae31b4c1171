"""PCO sandbox speed on loopback: requests/s sustained, ms per heavy page, start-up time.

The sandbox runs as a user meets it — its own process serving over uvicorn, as
`pco-pipeline sandbox` does, a 20,000-person synthetic church, rate limit off. Client processes with keep-alive httpx clients stand in for the pipeline (the box has 2 cores:
clients and server share them). Measured (median of ROUNDS rounds each):
  * start-up of a 2,000-person church (seed + load, in-process): limit 10 s;
  * requests/s for a 25-row page of people at random offsets, at 1, 2 and 4 client processes;
  * ms per page (end to end, and the sandbox's own X-Runtime) and pages/s for the pipeline's
    heaviest read: 100 people with include=emails,phone_numbers,addresses, at random offsets over
    the whole church (first reads: nothing cached yet).
Peer / limit: the pipeline's compressed benchmarks pace at most 100 requests per 2 s = 50/s, so
the sandbox must sustain a clear multiple of that (ratio column) to never be the bottleneck.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import random
import statistics
import subprocess
import sys
import time

import httpx

from bench._support import free_port, start_sandbox
from pco_sandbox.core import Sandbox, SandboxConfig

PEOPLE = 20_000
ROUNDS = 5
LIGHT_REQUESTS = 600          # per round
HEAVY_PAGES = 40              # per round
CONCURRENCY = (1, 2, 4)      # client processes
PIPELINE_RATE = 50.0          # requests/s the pipeline's compressed benchmarks can ask for
STARTUP_LIMIT_S = 10.0
AUTH = ("sandbox-app-id", "sandbox-secret")
HEAVY = {"include": "emails,phone_numbers,addresses", "per_page": "100"}


_SERVER = """
import sys
from pco_sandbox import Sandbox, SandboxConfig, serve
sandbox = Sandbox.seeded(people=int(sys.argv[2]), seed=1,
                         config=SandboxConfig(rate_limit="off", app_id=sys.argv[3], secret=sys.argv[4]))
serve(sandbox, port=int(sys.argv[1]), log_level="warning")
"""


def _start_server(port: int) -> subprocess.Popen:
    """The sandbox in its own process, as `pco-pipeline sandbox --rate-limit off` runs it."""
    return start_sandbox(["-c", _SERVER, str(port), str(PEOPLE), *AUTH], port, timeout_s=120)


def _client_process(base_url: str, path: str, params_for: list[dict]) -> tuple[int, float]:
    """One client process: its requests back to back over keep-alive; (failures, elapsed s)."""
    failures = 0
    with httpx.Client(base_url=base_url, auth=AUTH, timeout=30) as client:
        started = time.perf_counter()
        for params in params_for:
            response = client.get(path, params=params)
            response.read()
            failures += response.status_code != 200
        return failures, time.perf_counter() - started


def _rate(pool: multiprocessing.pool.Pool, base_url: str, path: str, params_for: list[dict], clients: int) -> float:
    """Requests/s with `clients` client processes sharing the requests (the slowest one sets the time)."""
    shares = [params_for[i::clients] for i in range(clients)]
    results = pool.starmap(_client_process, [(base_url, path, share) for share in shares])
    failures = sum(f for f, _ in results)
    if failures:
        raise RuntimeError(f"{failures} requests failed")
    return len(params_for) / max(elapsed for _, elapsed in results)


def _heavy_page(base_url: str, offsets: list[int]) -> tuple[float, float, int]:
    """(median ms per heavy page end to end, median server ms from X-Runtime, included count), one client."""
    total, server, included = [], [], 0
    with httpx.Client(base_url=base_url, auth=AUTH, timeout=30) as client:
        for offset in offsets:
            started = time.perf_counter()
            response = client.get("/people/v2/people", params={**HEAVY, "offset": str(offset)})
            response.read()
            total.append((time.perf_counter() - started) * 1000)
            server.append(float(response.headers["x-runtime"]) * 1000)
            assert response.status_code == 200, response.text[:300]
        body = response.json()
        assert len(body["data"]) == 100
        included = len(body.get("included", []))
    return statistics.median(total), statistics.median(server), included


def _startup_seconds(people: int) -> float:
    started = time.perf_counter()
    Sandbox.seeded(people=people, seed=1, config=SandboxConfig(rate_limit="off")).close()
    return time.perf_counter() - started


def main() -> int:
    rows: list[tuple[str, str, str, str]] = []
    startup = statistics.median(_startup_seconds(2000) for _ in range(3))
    rows.append(("start-up, 2,000 people", f"{startup:.2f} s", f"limit {STARTUP_LIMIT_S:.0f} s",
                 f"{STARTUP_LIMIT_S / startup:.0f}x under"))
    startup_big = _startup_seconds(PEOPLE)
    rows.append((f"start-up, {PEOPLE:,} people", f"{startup_big:.2f} s", "", ""))

    port = free_port()
    server = _start_server(port)
    base_url = f"http://127.0.0.1:{port}"
    randomizer = random.Random(1)
    pool = multiprocessing.get_context("spawn").Pool(max(CONCURRENCY))
    try:
        _rate(pool, base_url, "/people/v2/people", [{}] * 50, max(CONCURRENCY))  # warm-up (processes, sockets)
        for clients in CONCURRENCY:
            rates = [_rate(pool, base_url, "/people/v2/people",
                           [{"offset": str(randomizer.randrange(PEOPLE - 25))} for _ in range(LIGHT_REQUESTS)],
                           clients) for _ in range(ROUNDS)]
            rate = statistics.median(rates)
            rows.append((f"25-person page, {clients} client(s)", f"{rate:,.0f} req/s",
                         f"pipeline {PIPELINE_RATE:.0f}/s", f"{rate / PIPELINE_RATE:.0f}x"))
        heavy = [_heavy_page(base_url, [randomizer.randrange(0, PEOPLE - 100) for _ in range(HEAVY_PAGES)])
                 for _ in range(ROUNDS)]
        total_ms = statistics.median(h[0] for h in heavy)
        server_ms = statistics.median(h[1] for h in heavy)
        budget_ms = 1000 / PIPELINE_RATE
        rows.append((f"100 people + emails,phones,addresses ({heavy[-1][2]} included), end to end",
                     f"{total_ms:.1f} ms/page", f"pipeline {budget_ms:.0f} ms/request", f"{budget_ms / total_ms:.1f}x"))
        rows.append(("  of which the sandbox (X-Runtime)", f"{server_ms:.1f} ms/page", "", ""))
        heavy_rates = [_rate(pool, base_url, "/people/v2/people",
                             [{**HEAVY, "offset": str(randomizer.randrange(PEOPLE - 100))} for _ in range(HEAVY_PAGES)],
                             max(CONCURRENCY)) for _ in range(ROUNDS)]
        heavy_rate = statistics.median(heavy_rates)
        rows.append((f"same heavy page, {max(CONCURRENCY)} clients", f"{heavy_rate:,.0f} pages/s",
                     f"pipeline {PIPELINE_RATE:.0f}/s", f"{heavy_rate / PIPELINE_RATE:.1f}x"))
    finally:
        pool.terminate()
        server.terminate()
        server.wait(timeout=20)

    print(f"PCO sandbox on loopback, {PEOPLE:,}-person church, rate limit off, median of {ROUNDS} rounds")
    widths = [max(len(row[i]) for row in rows + [("measure", "median", "limit / peer", "ratio")]) for i in range(4)]
    header = ("measure", "median", "limit / peer", "ratio")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
    return 0 if startup < STARTUP_LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
