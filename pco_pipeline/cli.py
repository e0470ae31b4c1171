"""The `pco-pipeline` command. Every subcommand runs the same code (and Dagster jobs) the UI runs."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

from pco_pipeline.commands import check_connection, database, demo, jobs, push, sandbox, sync, ui, webhooks
from pco_pipeline.commands import api, conflicts, console, outbox, purge, runs, tokens, users
from pco_pipeline.commands.signals import sigterm_raises
from pco_pipeline.commands.startup import SETTINGS_ERRORS, check_settings
from pco_pipeline.db.errors import DatabaseConfigError, MigrationError

COMMAND_MODULES = [database, jobs, demo, ui, webhooks, api, console, users, tokens, sandbox, check_connection, sync, push,
                   runs, conflicts, outbox, purge]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pco-pipeline",
        description="Keep a church's PostgreSQL database in two-way sync with Planning Center Online.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Dagster's beta/preview notices are for developers of this project, not for its users.
    warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview)")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        # SIGTERM stops the command as Ctrl-C does (a run waiting for a pool, or not yet started, is
        # then left canceled, not STARTED). Commands that serve install their own handler meanwhile.
        with sigterm_raises(KeyboardInterrupt):
            check_settings()
            return args.handler(args)
    except (DatabaseConfigError, MigrationError, *SETTINGS_ERRORS) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
