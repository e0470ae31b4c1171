"""Run the project's Dagster jobs from the command line, exactly as the UI runs them.

The CLI resolves the database (starting the embedded server when needed), points Dagster at
its persistent instance (DAGSTER_HOME = the checkout, storage on the same PostgreSQL server),
and executes jobs in-process, so a run launched here shows up in the UI's run history.
"""

from __future__ import annotations

import os
from typing import Any

from pco_pipeline.db.resolve import DatabaseTarget, resolve_database
from pco_pipeline.paths import project_root


def prepare_environment() -> DatabaseTarget:
    """Resolve the database and export what Dagster and our resources read from the environment.

    Sets DAGSTER_HOME (unless the user set it) and DAGSTER_PG_URL (psycopg2 driver). Idempotent.
    """
    target = resolve_database()
    if not os.environ.get("DAGSTER_HOME"):
        home = project_root()
        if not (home / "dagster.yaml").exists():
            raise FileNotFoundError(
                f"no dagster.yaml in {home}: set DAGSTER_HOME to a directory holding one")
        os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_PG_URL", target.dagster_url)
    if not os.environ.get("PCO_PIPELINE_HOME"):  # a state dir elsewhere is not this checkout's instance
        _remember_dagster_url(os.environ["DAGSTER_PG_URL"])
    return target


def _remember_dagster_url(url: str) -> None:
    """Keep `DAGSTER_PG_URL` in the checkout's `.env`, which `dg` and `dagster` load from the cwd.

    Plain `dg check defs`, `dg dev` or `dg launch` typed in the checkout then find the same
    instance the CLI uses. Other lines of `.env` (a user's own settings) are kept as they are.
    """
    env_file = project_root() / ".env"
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    wanted = f"DAGSTER_PG_URL={url}"
    if wanted in lines:
        return
    kept = [line for line in lines if not line.startswith("DAGSTER_PG_URL=")]
    env_file.write_text("\n".join([*kept, wanted]) + "\n")


def run_job(job_name: str, run_config: dict[str, Any] | None = None, tags: dict[str, str] | None = None,
            log_level: str = "INFO"):
    """Execute `job_name` in-process on the persistent instance; return the ExecuteInProcessResult."""
    import dagster as dg

    from pco_pipeline.definitions import defs

    prepare_environment()
    job = defs().resolve_job_def(job_name)
    # Progress and warnings on the terminal; the full event stream is in the UI's run view.
    config = {"loggers": {"console": {"config": {"log_level": log_level}}}, **(run_config or {})}
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(run_config=config, instance=instance, tags=tags or {},
                                      raise_on_error=False)
