"""`pco-pipeline purge [--dry-run]`: the `purge_delivered` job the nightly schedule runs, from the
shell: deletes the finished church_outbox and webhook_inbox rows older than the retention period
(the rule: `pco_pipeline.sync.retention`)."""

from __future__ import annotations

import sys

from pco_pipeline.commands.jobs import report_failures
from pco_pipeline.runs.launch import run_job

JOB = "purge_delivered"


def register(subparsers) -> None:
    purge = subparsers.add_parser(
        "purge", help="delete the church_outbox rows sent, and the webhook_inbox rows applied or ignored, more than "
                      "PCO_DELIVERED_RETENTION_DAYS (30) days ago (the nightly purge_delivered job)")
    purge.add_argument("--dry-run", action="store_true", help="print how many rows would go; delete nothing")
    purge.set_defaults(handler=run_purge)


def run_purge(args) -> int:
    from pco_pipeline.defs.church_db.retention import purge_delivered_rows, purge_run_config, retention_days

    try:
        retention_days()   # a wrong setting is said before any run starts
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = run_job(JOB, run_config=purge_run_config(dry_run=args.dry_run))
    if result.success:
        done = result.output_for_node(purge_delivered_rows.name)
        verb = "would be deleted" if done["dry_run"] else "deleted"
        for table, n in done["rows"].items():
            print(f"{table}: {n} finished row(s) {verb} (finished before {done['finished_before']}, "
                  f"{done['retention_days']} days ago)")
    print(f"run {result.run_id} ({JOB}{', dry run' if args.dry_run else ''}): "
          f"{'success' if result.success else 'FAILED'}")
    report_failures(result)
    return 0 if result.success else 1
