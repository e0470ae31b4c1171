"""`pco-pipeline webhooks serve` as a real process: banner, misconfiguration, and a crash mid-burst."""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa

from pco_pipeline.webhooks.server import bind_socket
from pco_pipeline_tests.listening_process import (  # noqa: F401 (a fixture registers by being imported)
    ListeningProcess, listening_processes,
)
from pco_pipeline_tests.webhooks.conftest import SECRETS, delivery_document, encode, post_delivery


class ServeProcess(ListeningProcess):
    """`pco-pipeline webhooks serve` in a child process, its output in files."""

    def __init__(self, database_url: str, workdir: Path, port: int = 0, extra_env: dict[str, str] | None = None):
        env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_PG_URL", "PCO_WEBHOOK_MAX_BODY_BYTES")}
        env.update({"DATABASE_URL": database_url, "PCO_WEBHOOK_SECRETS": ",".join(SECRETS), **(extra_env or {})})
        super().__init__(env, workdir, "webhooks", "serve", "--port", str(port))


def test_serve_prints_where_it_listens_and_how_many_secrets_but_never_a_secret(database_url, tmp_path,
                                                                              listening_processes):
    serve = ServeProcess(database_url, tmp_path / "serve")
    listening_processes.append(serve)
    base = serve.wait_until_listening()
    with httpx.Client(base_url=base) as client:
        assert post_delivery(client, encode(delivery_document()), secret=SECRETS[1]).status_code == 200
    serve.stop()
    output = serve.output()
    assert f"listening on {base}: POST /api/pco/webhook" in output
    assert "webhook secrets: 3 configured (PCO_WEBHOOK_SECRETS and 0 stored by `webhooks subscribe`)" in output
    assert "stored webhook people.v2.events.person.updated delivery" in output
    assert not any(secret in output for secret in SECRETS)
    assert "Application shutdown complete" in output  # SIGTERM is a graceful stop


def test_serve_refuses_a_bad_body_limit_naming_the_setting(database_url, tmp_path):
    serve = ServeProcess(database_url, tmp_path / "serve", extra_env={"PCO_WEBHOOK_MAX_BODY_BYTES": "big"})
    assert serve.process.wait(timeout=60) == 2
    assert "error: PCO_WEBHOOK_MAX_BODY_BYTES must be a whole number" in serve.output()


def test_serve_on_a_busy_port_is_a_one_line_error(database_url, tmp_path):
    busy = bind_socket("127.0.0.1", 0)
    busy.listen()
    port = busy.getsockname()[1]
    try:
        serve = ServeProcess(database_url, tmp_path / "serve", port=port)
        assert serve.process.wait(timeout=60) == 2
    finally:
        busy.close()
    [line] = serve.stderr_path.read_text().strip().splitlines()
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port}: ") and "--port" in line


def test_receiver_killed_mid_burst_loses_nothing_once_pco_resends(database_url, engine, tmp_path, listening_processes):
    """SIGKILL the receiver mid-burst, restart it, re-send what was not answered 200 (as PCO
    does): every delivery ends stored exactly once."""
    bodies = {document["data"][0]["id"]: encode(document)
              for document in (delivery_document() for _ in range(400))}
    first = ServeProcess(database_url, tmp_path / "first")
    listening_processes.append(first)
    base = first.wait_until_listening()
    answered: set[str] = set()
    lock, halfway = threading.Lock(), threading.Event()
    per_thread = threading.local()
    clients: list[httpx.Client] = []

    def send(delivery_id: str) -> None:
        if not hasattr(per_thread, "client"):  # one keep-alive client per sender, like PCO's workers
            per_thread.client = httpx.Client(base_url=base, timeout=10)
            clients.append(per_thread.client)
        try:
            status = post_delivery(per_thread.client, bodies[delivery_id]).status_code
        except httpx.TransportError:
            return
        if status == 200:
            with lock:
                answered.add(delivery_id)
                if len(answered) >= 120:
                    halfway.set()

    with ThreadPoolExecutor(max_workers=16) as pool:
        burst = [pool.submit(send, delivery_id) for delivery_id in bodies]
        assert halfway.wait(timeout=60), "the burst never got going"
        first.stop(signal.SIGKILL)
        for future in burst:
            future.result()
    unanswered = [delivery_id for delivery_id in bodies if delivery_id not in answered]
    assert unanswered, "the kill came too late to interrupt the burst"

    second = ServeProcess(database_url, tmp_path / "second", port=int(base.rsplit(":", 1)[1]))
    listening_processes.append(second)
    assert second.wait_until_listening() == base
    for _ in range(3):  # PCO keeps retrying whatever was not answered 200
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(send, [d for d in bodies if d not in answered]))
        if len(answered) == len(bodies):
            break
    assert answered == set(bodies)
    for client in clients:
        client.close()

    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT delivery_id, count(*) FROM webhook_inbox GROUP BY delivery_id")).all()
    assert {delivery_id for delivery_id, _ in stored} == set(bodies)
    assert all(count == 1 for _, count in stored)
