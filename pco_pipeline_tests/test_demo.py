"""`pco-pipeline demo` end to end, on a small church, in a state directory of its own."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_demo_runs_everything_and_church_and_pco_agree_twice(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PCO_", "DAGSTER_")) and k != "DATABASE_URL"}
    env["PCO_PIPELINE_HOME"] = str(tmp_path / "state")
    command = [sys.executable, "-m", "pco_pipeline.cli", "demo", "--people", "150", "--rate-limit", "off",
               "--receiver-port", str(free_port())]
    try:
        first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        for step in ("full_sync (PCO → church)", "full_push (church → PCO)", "apply_webhooks (sensor's runs)",
                     "reconciliation (full refresh)"):
            assert step in first.stdout
        assert "result: church and PCO agree" in first.stdout
        assert "local church dataset:" in first.stdout

        second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        assert "sandbox church: reopened" in second.stdout
        assert "result: church and PCO agree" in second.stdout
    finally:
        subprocess.run([sys.executable, "-m", "pco_pipeline.cli", "db", "stop"], cwd=ROOT, env=env,
                       capture_output=True, timeout=60)
