"""`pco-pipeline conflicts list|show|resolve`: the fields church and PCO both changed to different
values, how each was decided, and deciding the ones held for a person; and the church changes
PCO's API cannot take ("needs action in PCO"), marked done with `resolve ID --take church`."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from pco_pipeline.db.engine import get_engine
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.db.resolve import resolve_database
from pco_pipeline.runs.process import this_host
from pco_pipeline.sync.conflicts import (MOOT, Conflict, ConflictError, get_conflict, list_conflicts,
                                         resolve_conflict)


def register(subparsers) -> None:
    conflicts = subparsers.add_parser(
        "conflicts", help="fields changed differently on both sides, and church changes to make by hand in PCO: "
                          "list them, show one, resolve one held for you")
    actions = conflicts.add_subparsers(dest="conflicts_command", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="the latest conflicts (newest first), or only the open ones")
    listing.add_argument("--open", action="store_true",
                         help="only the conflicts held for a person and the changes needing action in PCO "
                              "(oldest first)")
    listing.add_argument("--limit", type=_positive, default=200, help="at most this many (default 200)")
    listing.set_defaults(handler=run_list)

    show = actions.add_parser("show", help="one conflict: base, church and PCO values, how it was decided")
    show.add_argument("conflict_id", type=int, metavar="ID")
    show.set_defaults(handler=run_show)

    resolve = actions.add_parser(
        "resolve", help="decide an open conflict; the next push or load gives both sides the chosen value")
    resolve.add_argument("conflict_id", type=int, metavar="ID")
    choice = resolve.add_mutually_exclusive_group(required=True)
    choice.add_argument("--take", choices=["church", "pco"],
                        help="keep this side's value (a change needing action in PCO: --take church once done)")
    choice.add_argument("--value", metavar="V", help="give both sides this value instead (read as the field's type)")
    resolve.set_defaults(handler=run_resolve)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _engine():
    engine = get_engine(resolve_database().url)
    apply_migrations(engine)
    return engine


def run_list(args) -> int:
    with _engine().connect() as conn:
        conflicts = list_conflicts(conn, open_only=args.open, limit=args.limit)
    if not conflicts:
        print("no open conflicts" if args.open else "no conflicts recorded")
        return 0
    print(f"{'id':>6}  {'record':<28} {'field':<16} {'policy':<7} {'outcome':<12} {'detected':<16}  decided by")
    for conflict in conflicts:
        record = f"{conflict.entity} {conflict.pco_id}"
        print(f"{conflict.id:>6}  {record:<28} {conflict.field:<16} {conflict.policy.value:<7} "
              f"{conflict.outcome:<12} {conflict.detected_at.astimezone():%Y-%m-%d %H:%M}  "
              f"{_decision(conflict)}")
        if conflict.needs_action and conflict.applied_at is None:
            print(f"{'':>8}to do in PCO: {conflict.action_needed}")
    return 0


def run_show(args) -> int:
    with _engine().connect() as conn:
        conflict = get_conflict(conn, args.conflict_id)
    if conflict is None:
        print(f"error: no conflict {args.conflict_id}", file=sys.stderr)
        return 1
    _print_conflict(conflict)
    return 0


def run_resolve(args) -> int:
    by = f"{_user()}@{this_host()} (pco-pipeline conflicts resolve)"
    try:
        with _engine().begin() as conn:
            conflict = resolve_conflict(conn, args.conflict_id, decided_by=by, take=args.take, value=args.value)
    except ConflictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if conflict.needs_action:
        print(f"conflict {conflict.id} ({conflict.entity} {conflict.pco_id} {conflict.field}) marked done in PCO; "
              "it is closed once the push no longer sees it")
        return 0
    print(f"conflict {conflict.id} ({conflict.entity} {conflict.pco_id} {conflict.field}) resolved: both sides "
          f"get {_shown(conflict.resolution_value, deleted=conflict.resolution_deletes)} at the next push "
          "or load")
    return 0


def _print_conflict(conflict: Conflict) -> None:
    when = (lambda moment: f"{moment.astimezone():%Y-%m-%d %H:%M:%S %Z}" if moment else "-")
    print(f"conflict {conflict.id}: {conflict.entity} {conflict.pco_id} (local id {conflict.local_id}), "
          f"field {conflict.field}")
    print(f"  base    {_shown(conflict.base_value, unknown=not conflict.base_known)}")
    print(f"  church  {_shown(conflict.church_value, deleted=conflict.church_deleted)}"
          f"  (changed {when(conflict.church_changed_at)})")
    print(f"  PCO     {_shown(conflict.pco_value, deleted=conflict.pco_deleted)}"
          f"  (changed {when(conflict.pco_changed_at)})")
    print(f"  policy  {conflict.policy.value} → {conflict.outcome}; detected {when(conflict.detected_at)}")
    if conflict.needs_action:
        print(f"  PCO's API cannot take this change; to do in PCO: {conflict.action_needed}")
        if conflict.is_open:
            print(f"  open: once done in PCO, `pco-pipeline conflicts resolve {conflict.id} --take church`")
            return
    if conflict.is_open:
        print(f"  open: decide with `pco-pipeline conflicts resolve {conflict.id} --take church|pco` "
              "or `--value V`")
        return
    if conflict.is_moot:
        why = "the two sides no longer conflict" if conflict.decided_by == MOOT else "PCO now matches the church"
        print(f"  closed at {when(conflict.decided_at)}: {why}")
        return
    print(f"  decided by {conflict.decided_by} at {when(conflict.decided_at)}: {conflict.resolution_side} → "
          f"{_shown(conflict.resolution_value, deleted=conflict.resolution_deletes)}")
    print(f"  applied {when(conflict.applied_at)}" if conflict.applied_at else "  not applied yet")


def _decision(conflict: Conflict) -> str:
    if conflict.is_open:
        return "- (open)"
    return f"{conflict.decided_by}{'' if conflict.applied_at else ' (not applied yet)'}"


def _shown(value: object, *, deleted: bool = False, unknown: bool = False) -> str:
    if unknown:
        return "(no base: never agreed)"
    if deleted:
        return "(record deleted)"
    return "(blank)" if value is None else json.dumps(value, ensure_ascii=False)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (some containers)
        return f"uid {os.getuid()}"
