"""Where the project keeps its local state (embedded database, Dagster home)."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The checkout this package runs from (editable install), else the working directory."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd()


def state_dir() -> Path:
    """`.pco_pipeline/` beside the checkout, or `PCO_PIPELINE_HOME` when set."""
    override = os.environ.get("PCO_PIPELINE_HOME")
    return Path(override).expanduser().resolve() if override else project_root() / ".pco_pipeline"


def sql_dir() -> Path:
    """The numbered migration files: `sql/` in a checkout, `_sql/` inside a built wheel."""
    for candidate in (project_root() / "sql", PACKAGE_DIR / "_sql"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("no sql/ migrations directory found beside the pco_pipeline package")
