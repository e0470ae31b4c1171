"""A sandbox organization on disk: one JSON snapshot file, so a later run finds the same church.

    sandbox = Sandbox.open(path, people=2000, seed=1, config=config)   # load, or seed and save
    sandbox.save(path)                                                  # atomic: temp file + rename
    with autosave(sandbox, path, interval=10): serve(sandbox)           # saves when changed, and at exit

The snapshot holds everything that makes the organization what it is:
  * every collection's resources, in the format `Store.load` accepts (`type`, `id`, `attributes`,
    `relationships` with every stored relationship, hidden parent ones included), in id order;
  * the id counters, so an id handed out or deleted before the snapshot is never handed out again;
  * the clock (its time, and whether it is frozen or follows the wall clock);
  * the organization's attributes;
  * webhook subscriptions with their secrets, events and deliveries (they are resources too). Events
    still pending when the snapshot was taken are delivered again after reopening.
Request logs, rate budgets and faults are the running server's, not the organization's: not kept.

The file holds webhook secrets: it is written with mode 0600. A file that cannot be read back
(not JSON, cut short, another format) raises SnapshotError naming the file and what to do.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pco_sandbox.clock import Clock, format_timestamp
from pco_sandbox.store import LoadError, Record, Store
from pco_sandbox.webhooks import WebhookHub

FORMAT = "pco-pipeline/sandbox-snapshot"
VERSION = 1
EVENTS = "webhooks/events"


class SnapshotError(ValueError):
    """A snapshot file that cannot be read or written; the message names the file."""


class KeptSandbox(Protocol):
    """The parts of a sandbox a snapshot keeps (`core.Sandbox` is one, and assembles a sandbox
    from a read snapshot in `Sandbox.open`)."""

    store: Store
    clock: Clock
    organization: Record
    webhooks: WebhookHub


def snapshot(sandbox: KeptSandbox) -> dict[str, Any]:
    """The sandbox's organization as one JSON-serializable document (a consistent view)."""
    store = sandbox.store
    with store.lock:  # records are never changed in place, so holding them is enough
        collections = {kind.key: list(store.all(kind.key)) for kind in store.kinds()}
        counters = store.id_counters()
        now = sandbox.clock.now()
        organization = dict(sandbox.organization.attributes)
    return {
        "format": FORMAT,
        "version": VERSION,
        "saved_at": format_timestamp(datetime.now(UTC)),
        "organization": {"id": sandbox.organization.id, "attributes": organization},
        "clock": {"now": now.isoformat(), "frozen": sandbox.clock.frozen,
                  "offset_seconds": (now - datetime.now(UTC)).total_seconds()},
        "id_counters": {key: value for key, value in counters.items() if value > 1},
        "collections": {key: [_resource(record) for record in records]
                        for key, records in collections.items() if records},
    }


def _resource(record: Record) -> dict[str, Any]:
    return {"type": record.type, "id": record.id, "attributes": record.attributes,
            "relationships": {name: {"data": _ref_json(value)} for name, value in record.relationships.items()}}


def _ref_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return {"type": value[0], "id": value[1]}
    if isinstance(value, list):
        return [{"type": ref[0], "id": ref[1]} for ref in value]
    return None


def save(sandbox: KeptSandbox, path: str | os.PathLike[str]) -> Path:
    """Write the snapshot to `path` atomically (temp file in the same folder, fsync, rename), mode 0600."""
    target = Path(path)
    document = snapshot(sandbox)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise SnapshotError(f"cannot write the sandbox state file {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:  # mkstemp creates it 0600
            json.dump(document, handle, ensure_ascii=False, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException as exc:
        Path(temp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise SnapshotError(f"cannot write the sandbox state file {target}: {exc.strerror or exc}") from None
        raise
    _fsync_directory(target.parent)
    return target


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (where the platform lets a directory be opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked snapshot document in `path`; SnapshotError says what is wrong with the file."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _unreadable(source, "it is not UTF-8 text") from None
    except OSError as exc:
        raise SnapshotError(f"cannot read the sandbox state file {source}: {exc.strerror or exc}") from None
    if not text.strip():
        raise _unreadable(source, "it is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # JSON text that simply stops: the parser runs into the end, or into it inside a string
        cut_short = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        reason = ("it ends in the middle of the data (a partial write?)" if cut_short
                  else f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})")
        raise _unreadable(source, reason) from None
    problem = _shape_problem(document)
    if problem:
        raise _unreadable(source, problem)
    return document


def _shape_problem(document: Any) -> str | None:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return f"it is not a sandbox snapshot (no \"format\": \"{FORMAT}\")"
    if document.get("version") != VERSION:
        return f"it is snapshot version {document.get('version')!r}; this pco_pipeline reads version {VERSION}"
    collections = document.get("collections")
    if not isinstance(collections, dict) or not all(isinstance(v, list) for v in collections.values()):
        return "\"collections\" must map \"<app>/<collection>\" to lists of resources"
    counters = document.get("id_counters", {})
    if not isinstance(counters, dict) or not all(type(v) is int for v in counters.values()):
        return "\"id_counters\" must map collections to integers"
    clock = document.get("clock")
    if not isinstance(clock, dict) or not isinstance(clock.get("frozen"), bool) \
            or not isinstance(clock.get("offset_seconds"), (int, float)) or _parse_moment(clock.get("now")) is None:
        return "\"clock\" must hold \"now\" (ISO time), \"frozen\" and \"offset_seconds\""
    organization = document.get("organization")
    if not isinstance(organization, dict) or not isinstance(organization.get("attributes"), dict):
        return "\"organization\" must hold the organization's \"attributes\""
    return None


def _parse_moment(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _unreadable(path: Path, reason: str) -> SnapshotError:
    return SnapshotError(f"the sandbox state file {path} cannot be loaded: {reason}. "
                         f"Move it away or delete it to start from a freshly seeded church.")


def restored_clock(document: Mapping[str, Any], wall_now: datetime | None = None) -> tuple[datetime, bool]:
    """(the clock's time now, frozen) for a snapshot: a frozen clock resumes where it stopped; a
    following one keeps its offset from the wall clock, and never runs back behind the snapshot."""
    clock = document["clock"]
    saved = _parse_moment(clock["now"])
    if saved is None:
        raise ValueError(f"the snapshot's clock.now {clock['now']!r} is not an ISO 8601 time")
    if clock["frozen"]:
        return saved, True
    following = (wall_now or datetime.now(UTC)) + timedelta(seconds=clock["offset_seconds"])
    return max(saved, following), False


def load_into(sandbox: KeptSandbox, document: Mapping[str, Any], source: Path) -> None:
    """Put a read snapshot's organization into a new, empty sandbox and resume pending deliveries."""
    try:
        sandbox.store.load(document["collections"])
    except LoadError as exc:
        raise _unreadable(source, str(exc)) from None
    except (AttributeError, TypeError, ValueError) as exc:  # a resource of the wrong shape deeper down
        raise _unreadable(source, f"a resource in it is malformed ({exc})") from None
    sandbox.store.restore_id_counters(document.get("id_counters", {}))
    organization = document["organization"]
    sandbox.organization = Record("Organization", str(organization.get("id") or sandbox.organization.id),
                                  dict(organization["attributes"]), {})
    for event in sandbox.store.all(EVENTS):
        if event.attributes.get("status") == "pending":  # cut off mid-delivery or between retries
            sandbox.webhooks.redeliver(event)


def state_token(sandbox: KeptSandbox) -> tuple[int, datetime | None]:
    """Changes whenever a snapshot would differ in content (a frozen clock only moves when advanced)."""
    return sandbox.store.version, sandbox.clock.now() if sandbox.clock.frozen else None


@contextmanager
def autosave(sandbox: KeptSandbox, path: str | os.PathLike[str], *, interval: float = 10.0,
             report: Callable[[str], None] | None = None) -> Iterator[None]:
    """Save `sandbox` to `path` every `interval` seconds when it changed, and once more on exit.

    A failed periodic save is reported (default: stderr) and retried at the next tick; the final
    save raises SnapshotError.
    """
    report = report or (lambda message: print(message, file=sys.stderr, flush=True))
    stop = threading.Event()
    saved = [state_token(sandbox)]
    lock = threading.Lock()

    def save_if_changed() -> None:
        with lock:
            token = state_token(sandbox)
            if token != saved[0]:
                save(sandbox, path)
                saved[0] = token

    def loop() -> None:
        while not stop.wait(interval):
            try:
                save_if_changed()
            except SnapshotError as exc:
                report(f"warning: {exc} (will retry)")

    thread = threading.Thread(target=loop, name="pco-sandbox-autosave", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=max(30.0, interval))
        save_if_changed()
