"""`pco-pipeline push people|families|group-memberships|full [--dry-run]`: outbound runs from the shell."""

from __future__ import annotations

import sys

from pco_pipeline.runs.launch import run_job

PUSH_JOBS = {"people": "push_people", "families": "push_families",
             "group-memberships": "push_group_memberships", "full": "full_push"}


def register(subparsers) -> None:
    push = subparsers.add_parser("push", help="send what the church has and PCO lacks to PCO (the UI's push jobs)")
    push.add_argument("what", choices=list(PUSH_JOBS), help="which push job to run (full: people → families → "
                                                            "group memberships)")
    push.add_argument("--dry-run", action="store_true",
                      help="plan only: print what would be created or changed and, per record and field, base → "
                           "church → PCO → planned action and the conflicts it would record; send and write nothing")
    push.add_argument("--confirm", action="store_true",
                      help="let this run through the safety brake (it changes more of the church than "
                           "PCO_SAFETY_BRAKE_SHARE allows, e.g. after a deliberate bulk edit)")
    push.set_defaults(handler=run_push)


def summarize(result) -> list[str]:
    """Per step: its counts, and (dry run) its plan and its field table."""
    lines = []
    for event in result.all_events:
        if not event.is_successful_output:
            continue
        metadata = event.event_specific_data.metadata
        step = event.step_key
        if metadata["dry_run"].value:
            planned = metadata["planned"].value
            lines.append(f"{step}: dry run, {metadata['planned_writes'].value} writes planned, nothing sent")
            lines += [f"  {name}: {n}" for name, n in planned.items()]
            lines += ["", metadata["plan"].value, ""]
            if "fields" in metadata:
                lines.append(f"{step}: fields church and PCO hold differently (base → church → PCO → planned "
                             f"action); conflicts a real run would record: {metadata['conflicts_to_record'].value}")
                lines += ["", metadata["fields"].value, ""]
        else:
            counts = " ".join(f"{k}={metadata[k].value}"
                              for k in ("created", "updated", "deleted", "adopted", "skipped", "failed"))
            lines.append(f"{step}: {counts} requests={metadata['requests_used'].value}")
            lines += [f"  {line.strip('| ')}" for line in metadata["plan"].value.splitlines()
                      if line.startswith("| needs action in PCO:")]
            if "failures" in metadata:
                lines.append(metadata["failures"].value)
    return lines


def run_push(args) -> int:
    from pco_pipeline.defs.outbound.jobs import push_run_config

    job_name = PUSH_JOBS[args.what]
    result = run_job(job_name, run_config=push_run_config(job_name, dry_run=args.dry_run,
                                                          confirm_large_change=args.confirm))
    for line in summarize(result):
        print(line)
    print(f"run {result.run_id} ({job_name}{', dry run' if args.dry_run else ''}): "
          f"{'success' if result.success else 'FAILED'}")
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                error = event.step_failure_data.error
                print(f"  {event.step_key}: {error.message.strip() if error else 'failed'}", file=sys.stderr)
    return 0 if result.success else 1
