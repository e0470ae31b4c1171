"""The embedded PostgreSQL server's lifecycle, as `pco-pipeline db stop` and the tests use it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from pco_pipeline.db import embedded


@pytest.mark.slow
def test_stopping_a_server_that_died_is_nothing_to_stop(tmp_path: Path) -> None:
    """A server killed without a shutdown leaves postmaster.pid behind: stop says there was nothing
    to stop instead of failing, and the server starts again on the same data."""
    data_dir = tmp_path / "pgdata"
    embedded.ensure_running(data_dir)
    postmaster = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    os.kill(postmaster, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while _alive(postmaster) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (data_dir / "postmaster.pid").exists()

    assert embedded.stop(data_dir) is False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
