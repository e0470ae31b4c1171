"""SIGTERM turned into an exception, so a command stops the way Ctrl-C stops it (its `finally`
blocks and final saves run) instead of the process ending where it stands."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def sigterm_raises(exception: Callable[[], BaseException]) -> Iterator[None]:
    """While the block runs, SIGTERM raises `exception()` in the main thread. Off the main thread
    (where Python cannot install handlers) the block runs with the handler it has."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_it(signum, frame):
        raise exception()

    previous = signal.signal(signal.SIGTERM, raise_it)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
