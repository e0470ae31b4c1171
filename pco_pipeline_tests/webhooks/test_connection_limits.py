"""The listener's own limits, tried as an attacker would, against a real uvicorn on loopback:
oversized headers, headers and bodies trickled a byte at a time, more connections than allowed.

Waits are bounded (each loop has a deadline); the bounds are generous, so they say "promptly",
not how fast.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pco_pipeline.webhooks.app import create_app
from pco_pipeline.webhooks.server import BackgroundServer
from pco_pipeline.webhooks.settings import ConnectionLimits, ReceiverSettings
from pco_pipeline_tests.webhooks.conftest import SECRETS, WEBHOOK_PATH, delivery_document, encode, signed_headers
from pco_pipeline_tests.webhooks.test_serve import ServeProcess

READ_TIMEOUT = 2.0
# What "closed promptly" allows beyond the read timeout: scheduling on a loaded 2-core machine.
GRACE = 3.0
MIB = 1024 * 1024


@pytest.fixture
def serve_process(database_url: str, tmp_path: Path) -> Iterator[ServeProcess]:
    """`pco-pipeline webhooks serve` with a short read timeout, the other limits at their defaults."""
    process = ServeProcess(database_url, tmp_path / "serve",
                           extra_env={"PCO_WEBHOOK_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT)})
    yield process
    process.stop()


def _port(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def _peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set size (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def _send_oversized_header(port: int, size: int) -> bytes:
    """Send a request whose one header is `size` bytes long, 64 KiB at a time; returns what the
    server answered (b"" when it closed or reset the connection without an answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        chunk = b"a" * (64 * 1024)
        try:
            sock.sendall(f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ".encode())
            for _ in range(size // len(chunk)):
                sock.sendall(chunk)
            sock.sendall(b"\r\nContent-Length: 0\r\n\r\n")
        except OSError:  # the server stopped reading and closed: what it answered may still be readable
            pass
        try:
            return sock.recv(4096)
        except OSError:
            return b""


class SlowClients:
    """`count` connections trickling a request one byte per `interval` seconds; a quarter of them
    never send anything at all. Records when the server closed each one."""

    def __init__(self, port: int, count: int, interval: float = 1.0) -> None:
        self.interval = interval
        self.started = time.monotonic()
        self.sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
        self.silent = set(self.sockets[: count // 4])
        self.closed_after: dict[socket.socket, float] = {}
        self.answers: dict[socket.socket, bytes] = {}
        self._trickle = {sock: iter(f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
                                    + "a" * 1000) for sock in self.sockets}

    def step(self) -> None:
        """Send each open, talking connection its next byte, then note which ones the server closed."""
        for sock in self.sockets:
            if sock in self.closed_after or sock in self.silent:
                continue
            try:
                sock.send(next(self._trickle[sock]).encode())
            except OSError:
                self.closed_after[sock] = time.monotonic() - self.started
        readable, _, _ = select.select([s for s in self.sockets if s not in self.closed_after], [], [],
                                       self.interval)
        for sock in readable:
            try:
                self.answers[sock] = sock.recv(4096)
            except OSError:
                self.answers[sock] = b""
            self.closed_after[sock] = time.monotonic() - self.started

    @property
    def all_closed(self) -> bool:
        return len(self.closed_after) == len(self.sockets)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def test_an_oversized_header_is_refused_without_the_receiver_growing(serve_process):
    base = serve_process.wait_until_listening()
    pid = serve_process.process.pid
    before = _peak_rss_bytes(pid)

    answer = _send_oversized_header(_port(base), 1 * MIB)
    assert answer == b"" or answer.split(b" ", 2)[1] in (b"400", b"431"), answer[:200]

    # Four 32 MiB headers at once: the receiver stops reading each one after its header limit.
    with_answers: list[bytes] = []
    senders = [threading.Thread(target=lambda: with_answers.append(_send_oversized_header(_port(base), 32 * MIB)))
               for _ in range(4)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=60)
    assert not any(sender.is_alive() for sender in senders)
    assert all(answer == b"" or answer.split(b" ", 2)[1] in (b"400", b"431") for answer in with_answers)
    assert _peak_rss_bytes(pid) - before < 32 * MIB  # none of those headers was held in memory
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200


def test_slow_and_silent_connections_are_closed_within_the_read_timeout_while_healthz_answers(serve_process):
    base = serve_process.wait_until_listening()
    port = _port(base)
    slow = SlowClients(port, 50)
    big_headers_sent = threading.Event()

    def oversized_headers() -> None:
        for _ in range(4):
            _send_oversized_header(port, 16 * MIB)
        big_headers_sent.set()

    attacker = threading.Thread(target=oversized_headers, daemon=True)
    attacker.start()
    health: list[int] = []
    served_while_kept_alive: list[int] = []
    try:
        with httpx.Client(base_url=base, timeout=2) as keep_alive:
            deadline = slow.started + READ_TIMEOUT + GRACE
            while not slow.all_closed and time.monotonic() < deadline:
                slow.step()
                health.append(httpx.get(f"{base}/healthz", timeout=2).status_code)
                # One kept-alive connection, a request a second for longer than the read timeout:
                # the timeout is per request, so it is served throughout.
                served_while_kept_alive.append(keep_alive.get("/healthz").status_code)
        attacker.join(timeout=60)
    finally:
        slow.close()

    assert slow.all_closed, f"{len(slow.sockets) - len(slow.closed_after)} of 50 slow connections still open " \
                            f"{READ_TIMEOUT + GRACE:g} s after they opened"
    assert max(slow.closed_after.values()) < READ_TIMEOUT + GRACE
    # A request cut off mid-headers is told why (unless the close overtook the answer).
    answers = [slow.answers.get(sock, b"") for sock in slow.sockets if sock not in slow.silent]
    assert all(answer == b"" or answer.startswith(b"HTTP/1.1 408 Request Timeout") for answer in answers)
    assert any(answer.startswith(b"HTTP/1.1 408 Request Timeout") for answer in answers)
    assert health and set(health) == {200}
    assert served_while_kept_alive and set(served_while_kept_alive) == {200}
    assert big_headers_sent.is_set()


def test_a_body_trickled_in_is_cut_off_at_the_read_timeout(database_url):
    limits = ConnectionLimits(read_timeout_seconds=READ_TIMEOUT)
    body = encode(delivery_document())
    head = "".join(f"{name}: {value}\r\n" for name, value in signed_headers(body).items())
    with BackgroundServer(create_app(database_url, ReceiverSettings(secrets=SECRETS)), limits=limits) as server, \
            socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(f"POST {WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
                     f"{head}\r\n".encode())
        closed = False
        for byte in body[:40]:  # a byte every 0.2 s: 8 s for 40, if nobody stops it
            try:
                sock.send(bytes([byte]))
            except OSError:
                closed = True
                break
            if select.select([sock], [], [], 0.2)[0]:
                closed = True  # an answer, or the end of the connection
                break
        elapsed = time.monotonic() - started
        with httpx.Client(base_url=server.url, timeout=5) as client:
            assert client.get("/healthz").status_code == 200
    assert closed, "the trickled body was still being read after 8 s"
    assert elapsed < READ_TIMEOUT + GRACE


def test_connections_beyond_the_concurrency_limit_are_answered_503_until_some_close(database_url):
    limits = ConnectionLimits(max_concurrency=4)
    with BackgroundServer(create_app(database_url, ReceiverSettings(secrets=SECRETS)), limits=limits) as server:
        held = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(4)]
        try:
            for sock in held:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # headers never finished
            time.sleep(0.2)  # let the server accept them
            over = httpx.get(f"{server.url}/healthz", timeout=5)
        finally:
            for sock in held:
                sock.close()
        assert over.status_code == 503
        deadline = time.monotonic() + 5
        while (status := httpx.get(f"{server.url}/healthz", timeout=5).status_code) != 200 \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status == 200
