"""`pco-pipeline sandbox`: a simulated Planning Center with a synthetic church, on loopback."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pco_pipeline.commands.signals import sigterm_raises
from pco_sandbox.core import Sandbox, SandboxConfig
from pco_sandbox.persistence import SnapshotError, autosave
from pco_sandbox.ratelimit import RateLimit
from pco_sandbox.server import LOOPBACK, serve


def register(subparsers) -> None:
    sandbox = subparsers.add_parser(
        "sandbox", help="serve a simulated Planning Center API with a synthetic church (loopback only)",
        description="Serve /people/v2, /groups/v2, /check-ins/v2, /calendar/v2 and /webhooks/v2 like live PCO, "
                    "with test controls under /_sandbox/. Credentials: --app-id/--secret, else PCO_APP_ID/"
                    "PCO_SECRET, else the demo pair sandbox-app-id / sandbox-secret.")
    sandbox.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    sandbox.add_argument("--people", type=int, default=2000, help="people in the synthetic church (default 2000)")
    sandbox.add_argument("--seed", type=int, default=1, help="seed of the synthetic church (default 1)")
    sandbox.add_argument("--rate-limit", default="100/20s",
                         help="requests per period per credential, e.g. 100/20s (PCO's), 100/2s, or off")
    sandbox.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every API request")
    sandbox.add_argument("--fault-rate", type=float, default=0.0,
                         help="chance (0-1) that an API request fails with 503")
    sandbox.add_argument("--app-id", default=None, help="accepted personal access token application id")
    sandbox.add_argument("--secret", default=None, help="accepted personal access token secret")
    sandbox.add_argument("--state", type=Path, default=None, metavar="FILE",
                         help="keep the organization in this JSON file: loaded when it exists (--people/--seed "
                              "then only apply to seeding a new one), saved when changed and on exit")
    sandbox.add_argument("--save-every", type=float, default=10.0, metavar="SECONDS",
                         help="with --state: save at most this often while changes arrive (default 10)")
    sandbox.set_defaults(handler=run_sandbox)


def run_sandbox(args) -> int:
    problem = _check(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    config = SandboxConfig(app_id=args.app_id, secret=args.secret, rate_limit=args.rate_limit,
                           latency_ms=args.latency_ms, fault_rate=args.fault_rate)
    started = time.perf_counter()
    reopened = args.state is not None and args.state.exists()
    try:
        sandbox = (Sandbox.open(args.state, people=args.people, seed=args.seed, config=config) if args.state
                   else Sandbox.seeded(people=args.people, seed=args.seed, config=config))
    except SnapshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    base_url = f"http://{LOOPBACK}:{args.port}"
    counts = {key: sandbox.store.count(key) for key in ("people/people", "people/households", "groups/groups",
                                                         "check-ins/check_ins", "calendar/event_instances")}
    if reopened:
        print(f"PCO sandbox: {base_url}  (reopened {args.state} in {elapsed:.1f} s)")
    else:
        print(f"PCO sandbox: {base_url}  (seed {args.seed}, built in {elapsed:.1f} s)")
    if args.state:
        print(f"  state: {args.state} (saved every {args.save_every:g} s when changed, and on exit)")
    print("  " + ", ".join(f"{count} {key.split('/')[1].replace('_', ' ')}" for key, count in counts.items()))
    secret_note = sandbox.secret if sandbox.credentials_source == "demo pair" else "(as given)"
    print(f"  credentials ({sandbox.credentials_source}): app id {sandbox.app_id}, secret {secret_note}")
    rate = sandbox.limiter.rate
    print(f"  rate limit: {rate.limit} per {rate.period:g} s per credential; controls at {base_url}/_sandbox")
    print("Ctrl-C stops it.", flush=True)
    try:
        # SIGTERM stops the server as Ctrl-C does, with the final save, and exits 0: uvicorn shuts
        # down gracefully on either signal, then re-raises it; without this, SIGTERM's default
        # action would end the process before anything after `serve` runs.
        with sigterm_raises(_Terminated):
            if args.state is None:
                serve(sandbox, port=args.port, log_level="warning")
            else:
                _serve_keeping_state(sandbox, args)
    except _Terminated:
        pass
    except SnapshotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        sandbox.close()
    return 0


def _serve_keeping_state(sandbox: Sandbox, args) -> None:
    """Serve, saving when changed; once the final save is done (a stop signal included), say where."""
    stop: BaseException | None = None
    try:
        with autosave(sandbox, args.state, interval=args.save_every):
            serve(sandbox, port=args.port, log_level="warning")
    except (KeyboardInterrupt, _Terminated) as signalled:
        stop = signalled
    print(f"sandbox state kept in {args.state}", flush=True)
    if stop is not None:
        raise stop


class _Terminated(Exception):
    """SIGTERM arrived: a requested stop, not a failure."""


def _check(args) -> str | None:
    if (args.app_id is None) != (args.secret is None):
        return "give both --app-id and --secret (or neither)"
    if args.people < 0:
        return "--people must be 0 or more"
    if not 0.0 <= args.fault_rate <= 1.0:
        return "--fault-rate must be between 0 and 1"
    if args.latency_ms < 0:
        return "--latency-ms must be 0 or more"
    if args.save_every <= 0:
        return "--save-every must be more than 0 seconds"
    if not 0 < args.port < 65536:
        return "--port must be between 1 and 65535"
    try:
        RateLimit.parse(args.rate_limit)
    except ValueError as exc:
        return f"--rate-limit: {exc}"
    return None
