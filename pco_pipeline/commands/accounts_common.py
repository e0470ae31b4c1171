"""What the `users`, `tokens` and `api` commands share: the church database engine they use, how
a refused account change is reported, and how accounts are listed."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa

from pco_pipeline.accounts.errors import AccountError
from pco_pipeline.db.migrations import apply_migrations
from pco_pipeline.db.resolve import resolve_database
from pco_pipeline.webhooks.database import make_engine


@contextmanager
def accounts_engine() -> Iterator[sa.Engine]:
    """An engine on the migrated church database that never logs or reports bound parameters
    (they include password and token hashes), disposed of when the block ends."""
    engine = make_engine(resolve_database().url)
    try:
        apply_migrations(engine)
        yield engine
    finally:
        engine.dispose()


def moment(value: datetime | None) -> str:
    """A timestamp for a listing, to the minute in local time; '-' when there is none."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M %Z") if value else "-"


Handler = Callable[[argparse.Namespace], int]


def reporting_account_errors(handler: Handler) -> Handler:
    """`handler`, with an AccountError it raises (a broken rule, an unknown name…) printed as one
    `error: …` line on stderr and exit code 1; nothing was changed."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except AccountError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return run


def print_table(headers: Sequence[str], widths: Sequence[int], rows: Sequence[Sequence[str]], *,
                none_yet: str) -> None:
    """Columns separated by two spaces: the first as wide as its longest value, the middle ones
    padded to `widths` (one per column between the first and the last), the last unpadded; the
    line `none_yet` instead when there are no rows."""
    if not rows:
        print(none_yet)
        return
    first = max(len(headers[0]), *(len(row[0]) for row in rows))
    for line in (headers, *rows):
        middle = "".join(f"  {value:<{width}}" for value, width in zip(line[1:-1], widths, strict=True))
        print(f"{line[0]:<{first}}{middle}  {line[-1]}")
