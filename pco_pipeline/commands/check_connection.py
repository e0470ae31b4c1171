"""`pco-pipeline check-connection`: are the PCO settings right, and what can they reach?"""

from __future__ import annotations

import json

from pco_pipeline.pco.connection import check_connection


def register(subparsers) -> None:
    check = subparsers.add_parser(
        "check-connection",
        help="test the PCO credentials: organization, auth method, rate limit, module access (changes nothing)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(handler=run_check_connection)


def run_check_connection(args) -> int:
    report = check_connection()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.ok else 1
