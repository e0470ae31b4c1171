"""The process a command-line run executes in: recorded as run tags, so a later command can tell
whether the process behind an unfinished run still exists.

A pid alone is not enough: once a process is gone the system hands its pid to another one, so
the process's start time is recorded with it, and the host, since a pid means nothing on
another machine. No Dagster here: `runs.control` turns these tags into run decisions.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import psutil

HOST_TAG = "pco/host"
PID_TAG = "pco/pid"
STARTED_TAG = "pco/process_started"
# The OS reports start times in clock ticks (1/100 s on Linux); a recycled pid starts later than that.
_SAME_START_SECONDS = 1.0


def this_host() -> str:
    return socket.gethostname()


@dataclass(frozen=True)
class RunProcess:
    """One process on one host, identified by its pid and its start time (epoch seconds)."""

    host: str
    pid: int
    started_at: float

    @classmethod
    def current(cls) -> RunProcess:
        process = psutil.Process()
        return cls(host=this_host(), pid=process.pid, started_at=process.create_time())

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> RunProcess | None:
        """The process recorded in a run's tags; None for a run the CLI did not launch."""
        try:
            return cls(host=tags[HOST_TAG], pid=int(tags[PID_TAG]), started_at=float(tags[STARTED_TAG]))
        except (KeyError, ValueError):
            return None

    def tags(self) -> dict[str, str]:
        return {HOST_TAG: self.host, PID_TAG: str(self.pid), STARTED_TAG: f"{self.started_at:.2f}"}

    @property
    def on_this_host(self) -> bool:
        return self.host == this_host()

    def is_alive(self) -> bool | None:
        """Whether the process still runs: None when it runs on another host (not knowable here).

        A zombie (exited, not yet reaped by its parent) is dead; so is a process holding the pid
        that started at another time.
        """
        if not self.on_this_host:
            return None
        try:
            process = psutil.Process(self.pid)
            if process.status() == psutil.STATUS_ZOMBIE:
                return False
            return abs(process.create_time() - self.started_at) < _SAME_START_SECONDS
        except psutil.NoSuchProcess:
            return False
        except psutil.AccessDenied:  # another user's process with this pid and start time: it runs
            return True

    def stop(self, grace_seconds: float) -> bool:
        """SIGTERM the process, and SIGKILL it if it is still there after `grace_seconds`.

        Returns whether it is gone (False also when this user may not signal it). Only for a
        process on this host. Liveness is polled rather
        than waited for: a process whose parent has not reaped it yet stays a zombie, dead all the same.
        """
        try:
            process = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return True
        for send, wait_seconds in ((process.terminate, grace_seconds), (process.kill, 5.0)):
            try:
                send()  # psutil refuses (NoSuchProcess) when the pid now belongs to another process
            except psutil.NoSuchProcess:
                return True
            except psutil.AccessDenied:  # another user's process
                return False
            deadline = time.monotonic() + wait_seconds
            while time.monotonic() < deadline:
                if not self.is_alive():
                    return True
                time.sleep(0.1)
        return not self.is_alive()

    def describe(self) -> str:
        started = datetime.fromtimestamp(self.started_at).strftime("%Y-%m-%d %H:%M:%S")
        return f"pid {self.pid} on {self.host} (started {started})"
