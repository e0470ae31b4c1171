"""`pco-pipeline demo` end to end, on a small church, in a state directory of its own: the flow, a
church correction reaching PCO, conflicts recorded, decided by policy and resolved by a person."""

import os
import re
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


# What the demo's two-way stories checked, read back from both sides (each printed ✓ or ✗ NOT).
TWO_WAY_CHECKS = ("✓ the dry run shows the correction going to PCO, and sent nothing",
                  "✓ PCO holds the church's correction",
                  "✓ the conflict is recorded with both values and decided by policy pco",
                  "✓ the church database now holds PCO's",
                  "✓ the nickname conflict is held for a person, neither side changed",
                  "✓ the conflict is resolved",
                  "✓ both sides hold the chosen nickname")


def assert_two_way_stories(stdout: str) -> None:
    assert "✗" not in stdout, stdout[-4000:]
    for check in TWO_WAY_CHECKS:
        assert check in stdout, stdout[-4000:]
    assert re.search(r"UPDATE people SET last_name = '\w+' WHERE id = \d+;", stdout)
    assert re.search(r"conflict \d+ \(people \d+ nickname\) resolved: both sides get \"\w+\"", stdout)


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
                     "push_people (the correction)", "sync_people (both sides changed)", "push_people (the decision)",
                     "reconciliation (full refresh)"):
            assert step in first.stdout
        assert_two_way_stories(first.stdout)
        assert "result: church and PCO agree" in first.stdout
        assert "local church dataset:" in first.stdout

        second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
        assert "sandbox church: reopened" in second.stdout
        assert_two_way_stories(second.stdout)
        assert "result: church and PCO agree" in second.stdout
    finally:
        subprocess.run([sys.executable, "-m", "pco_pipeline.cli", "db", "stop"], cwd=ROOT, env=env,
                       capture_output=True, timeout=60)
