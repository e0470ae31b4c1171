"""A `pco-pipeline` listener (`webhooks serve`, `api serve`) run as a real child process, its
output in files: the helper both listeners' command tests use."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


class ListeningProcess:
    """`pco-pipeline ARGS` in a child process with environment `env`, stdout and stderr in `workdir`."""

    def __init__(self, env: dict[str, str], workdir: Path, *args: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path, self.stderr_path = workdir / "stdout", workdir / "stderr"
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "pco_pipeline.cli", *args],
                                            cwd=ROOT, env=env, stdout=out, stderr=err)

    def output(self) -> str:
        return self.stdout_path.read_text() + self.stderr_path.read_text()

    def wait_until_listening(self, timeout: float = 60) -> str:
        """The base URL, once the banner is printed and /healthz answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(r"listening on (http://[^\s:]+:\d+)", self.stdout_path.read_text())
            if match:
                try:
                    if httpx.get(f"{match.group(1)}/healthz", timeout=2).status_code == 200:
                        return match.group(1)
                except httpx.TransportError:
                    pass
            if self.process.poll() is not None:
                raise AssertionError(f"exited with {self.process.returncode}:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"did not start listening:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=30)


@pytest.fixture
def listening_processes() -> Iterator[list[ListeningProcess]]:
    """The listeners a test starts (it appends them), each killed at the end."""
    started: list[ListeningProcess] = []
    yield started
    for listener in started:
        listener.stop(signal.SIGKILL)
