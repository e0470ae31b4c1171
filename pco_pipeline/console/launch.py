"""Launching the pipeline's jobs from the console, through the running Dagster webserver's GraphQL
API (Dagster's own Python client), so each run is the same job staff launch from the Dagster UI,
shows there, and leaves its `pco_sync_log` row like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

CODE_LOCATION = "pco_pipeline"


@dataclass(frozen=True)
class LaunchableJob:
    name: str
    description: str
    can_dry_run: bool


class LaunchFailed(Exception):
    """The run could not be launched; the message says why, for staff."""


# The jobs staff launch (README, "Jobs"): the inbound syncs, then the pushes, which take a dry run.
JOBS = (
    LaunchableJob("sync_people", "PCO people (with emails, phones, addresses) and merges → church people.", False),
    LaunchableJob("sync_families", "PCO households → church families and members.", False),
    LaunchableJob("sync_groups", "PCO group types, groups and memberships → the church's groups.", False),
    LaunchableJob("sync_checkins", "PCO check-ins, events, locations, service times, headcounts → church mirror.",
                  False),
    LaunchableJob("sync_calendar", "PCO Calendar events and instances → church events.", False),
    LaunchableJob("full_sync", "Everything inbound, in order (incremental where PCO allows it).", False),
    LaunchableJob("push_people", "Church people PCO lacks → PCO people, with their contacts.", True),
    LaunchableJob("push_families", "Church families → PCO households.", True),
    LaunchableJob("push_group_memberships", "Church group memberships → PCO memberships.", True),
    LaunchableJob("full_push", "Everything outbound, in order: people → families → memberships.", True),
)


def launchable_jobs() -> tuple[LaunchableJob, ...]:
    return JOBS


def job_named(name: str) -> LaunchableJob | None:
    return next((job for job in launchable_jobs() if job.name == name), None)


def run_url(dagster_url: str, run_id: str) -> str:
    """The run's page in the Dagster UI."""
    return f"{dagster_url}/runs/{run_id}"


def launch(dagster_url: str, job: LaunchableJob, *, dry_run: bool, launched_by: str) -> str:
    """Submit a run of `job` (a dry run of every push step when `dry_run`) to the Dagster webserver
    at `dagster_url`; return its run id. Raises LaunchFailed saying why."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    from pco_pipeline.defs.outbound.jobs import dry_run_config

    if dry_run and not job.can_dry_run:
        raise LaunchFailed(f"{job.name} has no dry run")
    parsed = urlparse(dagster_url)
    client = DagsterGraphQLClient(parsed.hostname or "127.0.0.1", port_number=parsed.port,
                                  use_https=parsed.scheme == "https", path_prefix=parsed.path.rstrip("/"),
                                  timeout=30)
    try:
        return client.submit_job_execution(
            job.name, repository_location_name=CODE_LOCATION,
            run_config=dry_run_config(job.name) if dry_run else None,
            tags={"pco/launched_by": f"console:{launched_by}"})
    except DagsterGraphQLClientError as exc:
        text = str(exc)
        if _unreachable(exc):
            raise LaunchFailed(f"the Dagster webserver at {dagster_url} is not answering: start it with `make ui` "
                               "(or set PCO_CONSOLE_DAGSTER_URL)") from None
        raise LaunchFailed(f"Dagster refused to launch {job.name}: {text.splitlines()[0] if text else exc}") from None


def _unreachable(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is a failure to connect to the webserver at all."""
    import requests

    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, (requests.exceptions.ConnectionError, ConnectionError)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
