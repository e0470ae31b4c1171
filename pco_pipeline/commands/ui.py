"""`pco-pipeline ui`: the Dagster UI (webserver + daemon) on the persistent instance."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pco_pipeline.launch import prepare_environment
from pco_pipeline.paths import project_root


def register(subparsers) -> None:
    ui = subparsers.add_parser("ui", help="start the Dagster UI and daemon (schedules, sensors)")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--host", default="127.0.0.1")
    ui.set_defaults(handler=run_ui)


def run_ui(args) -> int:
    target = prepare_environment()
    print(f"church database: {target.display_url()} ({target.source})")
    print(f"Dagster UI: http://{args.host}:{args.port}  (Ctrl-C stops it)", flush=True)
    dg = Path(sys.executable).with_name("dg")
    command = [str(dg), "dev", "--workspace", str(project_root() / "workspace.yaml"),
               "--host", args.host, "--port", str(args.port)]
    return subprocess.call(command, cwd=project_root(), env=os.environ.copy())
