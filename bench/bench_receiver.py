"""Webhook receiver ingest rate on loopback: signed deliveries stored per second, and none lost.

The receiver runs as PCO would meet it: `pco-pipeline webhooks serve` in its own process (its
default logging on), on a fresh database of the benchmarks' embedded PostgreSQL
(`.pco_pipeline/bench-pgdata`). Sender processes stand in for PCO: each runs several
concurrent httpx clients (one thread each, keep-alive), posting pre-signed ~2.1 KiB
person.updated deliveries. The senders share the machine's cores with the receiver and
PostgreSQL, so the rate is a floor for the receiver alone; the load average is printed because
other work on the machine moves the figure too.

A round's rate is deliveries / (last 200 − first send). The receiver answers 200 only once a
row is committed, and after each round the inbox is counted against what was sent
(lost = sent − stored). Target: ≥ 500 deliveries/s on 2 cores, 0 lost.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import sqlalchemy as sa

from bench._support import drop_database, fresh_database, start_receiver
from pco_pipeline.webhooks.authenticity import SIGNATURE_HEADER, sign
from pco_pipeline.webhooks.envelope import delivery_document

TARGET_PER_SECOND = 500
DELIVERIES_PER_ROUND = 2000
ROUNDS = 3
SENDER_PROCESSES = 2
CLIENTS_PER_SENDER = (2, 8, 32)  # concurrency = SENDER_PROCESSES × this
SECRETS = [uuid.uuid4().hex for _ in range(4)]  # one per subscription, as PCO issues them
DATABASE = "pco_bench_receiver"


def person_payload(person_id: int) -> dict:
    """A person.updated payload of the size PCO sends (full attributes, ~2 KiB)."""
    attributes = {
        "accounting_administrator": False, "anniversary": None, "avatar":
            f"https://avatars.planningcenteronline.com/uploads/initials/{person_id}.png",
        "birthdate": "1984-07-12", "can_create_forms": False, "can_email_lists": False,
        "child": False, "created_at": "2019-05-01T15:02:11Z", "demographic_avatar_url":
            "https://people.planningcenteronline.com/static/no_photo_thumbnail_man_gray.svg",
        "first_name": "Bench", "gender": "M", "given_name": None, "grade": None,
        "graduation_year": None, "inactivated_at": None, "last_name": f"Person{person_id}",
        "medical_notes": None, "membership": "Member", "middle_name": None, "name": f"Bench Person{person_id}",
        "nickname": None, "passed_background_check": False, "people_permissions": None,
        "remote_id": None, "school_type": None, "site_administrator": False, "status": "active",
        "updated_at": "2025-03-02T15:04:05Z", "directory_status": "no_access",
        "login_identifier": f"bench{person_id}@example.org", "mfa_configured": False,
        "resource_permission_flags": {"can_edit_emails": True, "can_edit_phone_numbers": True},
    }
    relationships = {name: {"data": {"type": kind, "id": str(person_id % 97 + 1)}} for name, kind in (
        ("primary_campus", "Campus"), ("gender", "Gender"), ("school", "SchoolOption"))}
    return {
        "data": {"type": "Person", "id": str(person_id), "attributes": attributes,
                 "relationships": relationships,
                 "links": {"self": f"https://api.planningcenteronline.com/people/v2/people/{person_id}",
                           "html": f"https://people.planningcenteronline.com/people/AC{person_id}"}},
        "included": [],
        "meta": {"can_include": ["addresses", "emails", "field_data", "households", "phone_numbers"],
                 "parent": {"id": "1", "type": "Organization"},
                 "event_time": "2025-03-02T15:04:05Z", "idempotency_token": uuid.uuid4().hex},
    }


def signed_deliveries(count: int) -> list[tuple[str, bytes, str]]:
    """(delivery id, body, signature) triples, each signed with one of the subscription secrets."""
    out = []
    for n in range(count):
        delivery_id = str(uuid.uuid4())
        body = json.dumps(delivery_document("people.v2.events.person.updated", person_payload(100000 + n),
                                            delivery_id=delivery_id)).encode()
        out.append((delivery_id, body, sign(body, SECRETS[n % len(SECRETS)])))
    return out


# --- the sender processes (PCO) ------------------------------------------------------------------

def _sender(base: str, deliveries: list[tuple[str, bytes, str]], clients: int, go, results) -> None:
    """One sender process: `clients` threads, each its own keep-alive httpx.Client.

    Requests are built before the start signal (PCO prepares a delivery before sending it), so
    the round times sending, not JSON and header assembly on the sender's side.
    """
    pending = queue.SimpleQueue()
    latencies: list[float] = []
    outcomes: list[tuple[str, int]] = []
    http_clients = [httpx.Client(timeout=30) for _ in range(clients)]
    for n, (delivery_id, body, signature) in enumerate(deliveries):
        request = http_clients[n % clients].build_request(
            "POST", f"{base}/api/pco/webhook", content=body,
            headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"})
        pending.put((delivery_id, request))

    def client_loop(client: httpx.Client) -> None:
        while True:
            try:
                delivery_id, request = pending.get_nowait()
            except queue.Empty:
                return
            sent = time.monotonic()
            try:
                status = client.send(request).status_code
            except httpx.TransportError:
                status = 0
            latencies.append(time.monotonic() - sent)
            outcomes.append((delivery_id, status))

    threads = [threading.Thread(target=client_loop, args=(client,)) for client in http_clients]
    go.wait()
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished = time.monotonic()
    for client in http_clients:
        client.close()
    results.put((started, finished, latencies, outcomes))


@dataclass
class Round:
    per_second: float
    p50_ms: float
    p95_ms: float
    non_200: int
    lost: int
    receiver_cpu_ms: float  # receiver process CPU time per delivery


def run_round(base: str, receiver: psutil.Process, engine: sa.Engine, clients_per_sender: int) -> Round:
    deliveries = signed_deliveries(DELIVERIES_PER_ROUND)
    context = multiprocessing.get_context("fork")
    go, results = context.Event(), context.Queue()
    slices = [deliveries[i::SENDER_PROCESSES] for i in range(SENDER_PROCESSES)]
    senders = [context.Process(target=_sender, args=(base, part, clients_per_sender, go, results))
               for part in slices]
    for sender in senders:
        sender.start()
    time.sleep(0.5)  # let every sender build its requests and reach the start line
    cpu_before = receiver.cpu_times()
    go.set()
    reports = [results.get(timeout=600) for _ in senders]
    cpu_after = receiver.cpu_times()
    for sender in senders:
        sender.join()
    started = min(report[0] for report in reports)
    finished = max(report[1] for report in reports)
    latencies = sorted(latency for report in reports for latency in report[2])
    outcomes = [outcome for report in reports for outcome in report[3]]
    with engine.begin() as conn:
        stored = conn.execute(sa.text("SELECT count(DISTINCT delivery_id) FROM webhook_inbox")).scalar_one()
        conn.exec_driver_sql("TRUNCATE webhook_inbox")
    return Round(
        per_second=len(deliveries) / (finished - started),
        p50_ms=1000 * latencies[len(latencies) // 2],
        p95_ms=1000 * latencies[int(len(latencies) * 0.95)],
        non_200=sum(status != 200 for _, status in outcomes),
        lost=len(deliveries) - stored,
        receiver_cpu_ms=1000 * ((cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system))
        / len(deliveries),
    )


def main() -> int:
    database_url = fresh_database(DATABASE)
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    with tempfile.TemporaryDirectory() as workdir:
        receiver, base = start_receiver(database_url, Path(workdir) / "receiver.log", SECRETS)
        try:
            process = psutil.Process(receiver.pid)
            run_round(base, process, engine, 4)  # warm-up: pool connections, imports, caches
            table = []
            for clients in CLIENTS_PER_SENDER:
                rounds = [run_round(base, process, engine, clients) for _ in range(ROUNDS)]
                table.append((SENDER_PROCESSES * clients, rounds))
        finally:
            receiver.terminate()
            receiver.wait(timeout=30)
    engine.dispose()
    drop_database(DATABASE)

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"receiver ingest on loopback: {DELIVERIES_PER_ROUND} signed deliveries per round, "
          f"median of {ROUNDS} rounds, {os.cpu_count()} cores, {SENDER_PROCESSES} sender processes "
          f"(load average {load})")
    print(f"{'concurrent clients':>18} {'stored/s':>9} {'vs 500/s':>9} {'p50 ms':>7} {'p95 ms':>7} "
          f"{'receiver CPU ms':>16} {'non-200':>8} {'lost':>5}")
    ok = True
    for concurrency, rounds in table:
        rate = statistics.median(r.per_second for r in rounds)
        lost = sum(r.lost for r in rounds)
        non_200 = sum(r.non_200 for r in rounds)
        print(f"{concurrency:>18} {rate:>9.0f} {rate / TARGET_PER_SECOND:>8.2f}x "
              f"{statistics.median(r.p50_ms for r in rounds):>7.1f} "
              f"{statistics.median(r.p95_ms for r in rounds):>7.1f} "
              f"{statistics.median(r.receiver_cpu_ms for r in rounds):>16.2f} {non_200:>8} {lost:>5}")
        ok &= lost == 0 and non_200 == 0
    best = max(statistics.median(r.per_second for r in rounds) for _, rounds in table)
    ok &= best >= TARGET_PER_SECOND
    print(f"target ≥ {TARGET_PER_SECOND}/s with 0 lost: {'met' if ok else 'NOT met'} "
          f"(best median {best:.0f}/s = {best / TARGET_PER_SECOND:.2f}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
