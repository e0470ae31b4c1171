"""End to end, the Compose deployment as an operator runs it: `make image`, `make deploy-up` with
the sandbox, then through the services' own interfaces only (the webserver's GraphQL API, the
receiver's port, `docker`): migrations applied once; `full_sync` launched through GraphQL runs in
its own container and completes; the daemon runs the schedules and sensors; a signed webhook the
sandbox delivers to the receiver is applied by a sensor-launched run; a church edit reaches the
sandbox; the daemon's container killed and restarted by Compose loses nothing; `make deploy-down`
leaves nothing running; no secret in the image's history or any log.

Needs a Docker engine and a Compose client (as root, Debian's `docker.io` and `docker-compose`);
skipped with the reason where either is missing. One test: its steps share one stack.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pco_pipeline.console.launch import CODE_LOCATION

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "pco_pipeline"
LOCAL_CA_CERTS = Path("/usr/local/share/ca-certificates")
SERVICES = ("db", "code-server", "webserver", "daemon", "receiver", "console", "sandbox")
RUN_WORKER_LABEL = "org.pco-pipeline.role=run-worker"


def _docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def _why_docker_cannot_run() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client installed"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
        return "no Docker engine is running (as root: apt-get install docker.io docker-compose; dockerd)"
    has_compose = (subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
                   or shutil.which("docker-compose") is not None)
    if not has_compose:
        return "no Docker Compose client installed (docker compose or docker-compose)"
    if _docker("ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={PROJECT}").strip() or \
            _docker("volume", "ls", "--quiet", "--filter", f"label=com.docker.compose.project={PROJECT}").strip():
        return f"a {PROJECT} deployment already exists on this machine (its containers or volumes): not touching it"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 2.0) -> Any:
    """`check()`'s first truthy result; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 (a service still starting answers with errors)
            last_error = exc
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last error: {last_error})")


@dataclass
class Stack:
    env_file: Path
    settings: dict[str, str]
    figures: dict[str, float] = field(default_factory=dict)

    def make(self, target: str, *extra: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["make", "--no-print-directory", target, f"DEPLOY_ENV={self.env_file}", *extra],
                                cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"make {target} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result

    def container(self, service: str) -> str:
        """The service's container id (by Compose's labels: v1 and v2 name containers differently)."""
        [container_id] = _docker("ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={PROJECT}",
                                 "--filter", f"label=com.docker.compose.service={service}").split()
        return container_id

    def timed(self, phase: str, step: Callable[..., Any], *args: Any) -> Any:
        """`step(*args)`, its wall time recorded as figure `phase`_s."""
        started = time.monotonic()
        try:
            return step(*args)
        finally:
            self.figures[f"{phase}_s"] = time.monotonic() - started

    def psql(self, sql: str) -> list[list[str]]:
        out = _docker("exec", self.container("db"), "psql", "--username", self.settings["POSTGRES_USER"],
                      "--dbname", self.settings["POSTGRES_DB"], "--no-align", "--tuples-only",
                      "--field-separator", "\t", "--command", sql)
        return [line.split("\t") for line in out.splitlines() if line]

    def inspect(self, container: str, template: str) -> str:
        return _docker("inspect", "--format", template, container).strip()

    def healthy(self, service: str) -> bool:
        return self.inspect(self.container(service), "{{.State.Health.Status}}") == "healthy"

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.post(f"http://127.0.0.1:{self.settings['DAGSTER_UI_PORT']}/graphql",
                              json={"query": query, "variables": variables or {}}, timeout=30)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def launch(self, job: str, run_config: dict[str, Any] | None = None) -> str:
        from dagster_graphql import DagsterGraphQLClient

        client = DagsterGraphQLClient("127.0.0.1", port_number=int(self.settings["DAGSTER_UI_PORT"]))
        return client.submit_job_execution(job, repository_location_name=CODE_LOCATION, run_config=run_config or {})

    def run_status(self, run_id: str) -> str:
        data = self.graphql("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", {"id": run_id})
        return data["runOrError"]["status"]

    def wait_for_run(self, run_id: str, timeout: float = 600) -> None:
        status = _wait_for(f"run {run_id} to end", lambda: (s := self.run_status(run_id)) in (
            "SUCCESS", "FAILURE", "CANCELED") and s, timeout, every=3)
        assert status == "SUCCESS", f"run {run_id} ended {status}:\n{self.run_worker_logs(run_id)[-4000:]}"

    def run_worker_logs(self, run_id: str) -> str:
        ids = _docker("ps", "--all", "--quiet", "--filter", f"label=dagster/run_id={run_id}").split()
        return "".join(_logs(container_id) for container_id in ids)

    def sandbox_get(self, path: str) -> dict[str, Any]:
        return json.loads(self.sandbox_http("GET", path))

    def sandbox_http(self, method: str, path: str, body: dict[str, Any] | None = None) -> str:
        """A request to the simulated PCO from inside its own container (it is not published)."""
        script = ("import httpx, json, os, sys; r = httpx.request(sys.argv[1], 'http://127.0.0.1:8765' + sys.argv[2], "
                  "json=json.loads(sys.argv[3]) if sys.argv[3] else None, "
                  "auth=(os.environ['PCO_APP_ID'], os.environ['PCO_SECRET'])); r.raise_for_status(); print(r.text)")
        return _docker("exec", self.container("sandbox"), "python3", "-c", script, method, path,
                       json.dumps(body) if body else "")


def _settings() -> dict[str, str]:
    password = secrets.token_hex(16)
    return {
        "POSTGRES_USER": "pco", "POSTGRES_PASSWORD": password, "POSTGRES_DB": "church",
        "DATABASE_URL": f"postgresql://pco:{password}@db:5432/church",
        "DAGSTER_PG_URL": f"postgresql+psycopg2://pco:{password}@db:5432/dagster",
        "PCO_APP_ID": "deploy-e2e", "PCO_SECRET": secrets.token_hex(16),
        "PCO_API_BASE": "http://sandbox:8765",
        "PCO_CONSOLE_SESSION_SECRET": secrets.token_hex(32),
        "PCO_WEBHOOK_SENSOR_INTERVAL_SECONDS": "5",
        "SANDBOX_PEOPLE": "150", "SANDBOX_RATE_LIMIT": "off",
        "RECEIVER_PORT": str(_free_port()), "DAGSTER_UI_PORT": str(_free_port()), "CONSOLE_PORT": str(_free_port()),
    }


SECRET_SETTINGS = ("POSTGRES_PASSWORD", "PCO_SECRET", "PCO_CONSOLE_SESSION_SECRET")


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    reason = _why_docker_cannot_run()
    if reason:
        pytest.skip(reason)
    settings = _settings()
    env_file = tmp_path_factory.mktemp("deploy") / ".env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    deployed = Stack(env_file, settings)
    try:
        yield deployed
    finally:
        # Printed even when a check failed: where the time went.
        print(f"\ndeploy e2e figures: {json.dumps({k: round(v, 1) for k, v in deployed.figures.items()})}")
        subprocess.run(["make", "--no-print-directory", "deploy-down", f"DEPLOY_ENV={env_file}"], cwd=ROOT,
                       capture_output=True, timeout=300)
        volumes = _docker("volume", "ls", "--quiet", "--filter", f"label=com.docker.compose.project={PROJECT}",
                          check=False).split()
        if volumes:
            _docker("volume", "rm", *volumes, check=False)


def test_the_compose_stack_end_to_end(stack: Stack, record_property):
    # Build: the base image is reused once made; the build trusts the CAs this machine added.
    # Under .ci/run this mostly waits for the build it started while lint ran.
    build_args = [f"BUILD_CA_CERTS={LOCAL_CA_CERTS}"] if any(LOCAL_CA_CERTS.glob("*.crt")) else []
    stack.timed("image_build", stack.make, "image", *build_args)
    stack.figures["image_mb"] = int(_docker("image", "inspect", "--format", "{{.Size}}", "pco-pipeline:latest")) / 1e6

    stack.timed("stack_start", _stack_up, stack)
    stack.timed("migrations_check", _migrations_applied_once, stack)
    stack.timed("daemon_check", _daemon_runs_schedules_and_sensors, stack, 0.0)
    stack.timed("full_sync", _full_sync_runs_in_its_own_container, stack)
    person_id = stack.timed("webhook", _signed_webhook_is_applied_by_a_sensor_run, stack)
    stack.timed("church_edit", _church_edit_reaches_the_sandbox, stack, person_id)
    stack.timed("daemon_kill", _killed_daemon_is_restarted_and_loses_nothing, stack)
    stack.timed("secrets_check", _no_secret_in_image_history_or_logs, stack)
    stack.timed("deploy_down", _deploy_down_leaves_nothing_running, stack)

    for name, value in stack.figures.items():
        record_property(name, round(value, 1))


def _stack_up(stack: Stack) -> None:
    """`make deploy-up` with the sandbox, until the services are healthy (the daemon's own check runs
    once a minute: its heartbeats are checked through the webserver, by the next step)."""
    stack.make("deploy-up", "DEPLOY_PROFILES=--profile sandbox", timeout=600)
    for service in ("code-server", "webserver", "receiver", "console"):
        _wait_for(f"{service} to be healthy", lambda service=service: stack.healthy(service), timeout=300, every=1)


def _migrations_applied_once(stack: Stack) -> None:
    files = sorted(path.name for path in (ROOT / "sql").glob("[0-9][0-9][0-9][0-9]_*.sql"))
    rows = stack.psql("SELECT name, count(*) FROM schema_migrations GROUP BY name ORDER BY name")
    assert rows == [[name, "1"] for name in files]
    assert stack.inspect(stack.container("migrate"), "{{.State.ExitCode}}") == "0"
    applied = [line.removeprefix("applied ") for line in _logs(stack.container("migrate")).splitlines()
               if line.startswith("applied ")]
    assert applied == files
    # The one-shot service ran once (it is never restarted), and applied every migration itself.
    assert stack.inspect(stack.container("migrate"), "{{.RestartCount}}") == "0"


DAEMONS_QUERY = """{ instance { daemonHealth { allDaemonStatuses { daemonType healthy } } }
  repositoriesOrError { ... on RepositoryConnection { nodes { location { name }
    schedules { name scheduleState { status } }
    sensors { name sensorState { status ticks(limit: 1) { timestamp status } } } } } } }"""


def _daemon_runs_schedules_and_sensors(stack: Stack, since: float) -> None:
    def state() -> dict[str, Any] | None:
        data = stack.graphql(DAEMONS_QUERY)
        statuses = {d["daemonType"]: d["healthy"] for d in data["instance"]["daemonHealth"]["allDaemonStatuses"]}
        wanted = ("SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR", "MONITORING")
        if not all(statuses.get(daemon) for daemon in wanted):
            return None
        [repository] = [node for node in data["repositoriesOrError"]["nodes"] if node["location"]["name"] == CODE_LOCATION]
        running_sensors = [s for s in repository["sensors"] if s["sensorState"]["status"] == "RUNNING"]
        ticked = all(s["sensorState"]["ticks"] and s["sensorState"]["ticks"][0]["timestamp"] > since
                     for s in running_sensors)
        return repository if running_sensors and ticked else None

    repository = _wait_for("the daemon to be healthy and tick every running sensor", state, timeout=180, every=3)
    schedules = {s["name"]: s["scheduleState"]["status"] for s in repository["schedules"]}
    assert schedules["nightly_full_sync"] == "RUNNING"
    sensors = {s["name"]: s["sensorState"]["status"] for s in repository["sensors"]}
    assert sensors["apply_webhooks_sensor"] == "RUNNING"


def _full_sync_runs_in_its_own_container(stack: Stack) -> None:
    run_id = stack.launch("full_sync")
    stack.wait_for_run(run_id, timeout=900)
    [container] = _docker("ps", "--all", "--format", "{{.Image}} {{.Label \"org.pco-pipeline.role\"}}",
                          "--filter", f"label=dagster/run_id={run_id}").splitlines()
    assert container == "pco-pipeline:latest run-worker"
    # Its steps' stdout and stderr reached the volume the webserver shows them from.
    assert _docker("exec", stack.container("webserver"), "find", "/opt/dagster/home/compute_logs", "-path",
                   f"*{run_id}*", "-type", "f").split()
    [[people]] = stack.psql("SELECT count(*) FROM people WHERE pco_id IS NOT NULL")
    assert int(people) == int(stack.settings["SANDBOX_PEOPLE"])


def _signed_webhook_is_applied_by_a_sensor_run(stack: Stack) -> str:
    """PCO's own flow: subscribe (secrets stored), restart the receiver to load them, an edit in
    PCO, PCO's signed delivery, the sensor's run applying it. Returns the edited person's PCO id."""
    receiver = stack.container("receiver")
    _docker("exec", receiver, "pco-pipeline", "webhooks", "subscribe", "--url", "http://receiver:8787/api/pco/webhook")
    _docker("restart", receiver)
    _wait_for("the receiver to be healthy again", lambda: stack.healthy("receiver"), timeout=120)
    [[person_id, first_name]] = stack.psql(
        "SELECT pco_id, first_name FROM people WHERE pco_id IS NOT NULL ORDER BY pco_id LIMIT 1")
    new_name = f"Webhook{secrets.token_hex(3)}"
    stack.sandbox_http("PATCH", f"/people/v2/people/{person_id}",
                       {"data": {"type": "Person", "id": person_id, "attributes": {"first_name": new_name}}})
    _wait_for("the webhook's change in the church database", lambda: stack.psql(
        f"SELECT 1 FROM people WHERE pco_id = '{person_id}' AND first_name = '{new_name}'"), timeout=240, every=3)
    assert first_name != new_name
    [[accepted]] = stack.psql("SELECT count(*) FROM webhook_inbox")
    assert int(accepted) >= 1
    runs = stack.graphql("""{ runsOrError(filter: {tags: [{key: "dagster/sensor_name", value: "apply_webhooks_sensor"}]})
        { ... on Runs { results { runId } } } }""")["runsOrError"]["results"]
    assert runs
    for run in runs:
        stack.wait_for_run(run["runId"])
        assert stack.run_worker_logs(run["runId"])  # in a container of its own
    return person_id


def _church_edit_reaches_the_sandbox(stack: Stack, person_id: str) -> None:
    new_last_name = f"Pushed{secrets.token_hex(3)}"
    stack.psql(f"UPDATE people SET last_name = '{new_last_name}' WHERE pco_id = '{person_id}'")
    run_id = stack.launch("push_people")
    stack.wait_for_run(run_id)
    person = stack.sandbox_get(f"/people/v2/people/{person_id}")
    assert person["data"]["attributes"]["last_name"] == new_last_name


def _killed_daemon_is_restarted_and_loses_nothing(stack: Stack) -> None:
    daemon = stack.container("daemon")
    pid = stack.inspect(daemon, "{{.State.Pid}}")
    killed_at = time.time()
    os.kill(int(pid), 9)
    # A run submitted while the daemon is down waits in the queue, then runs (a quick job, its one
    # step in the run's own process: that the queue survived is the point; full_sync's own run
    # was checked above).
    run_id = stack.launch("check_database", {"execution": {"config": {"in_process": {}}}})
    _wait_for("Compose to restart the daemon", lambda: stack.inspect(daemon, "{{.RestartCount}}") != "0"
              and stack.inspect(daemon, "{{.State.Running}}") == "true", timeout=120)
    stack.wait_for_run(run_id, timeout=600)
    _daemon_runs_schedules_and_sensors(stack, since=killed_at)


def _no_secret_in_image_history_or_logs(stack: Stack) -> None:
    values = [stack.settings[name] for name in SECRET_SETTINGS]
    history = _docker("history", "--no-trunc", "pco-pipeline:latest")
    compose_file = (ROOT / "deploy" / "compose.yaml").read_text()
    containers = _docker("ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={PROJECT}").split()
    containers += _docker("ps", "--all", "--quiet", "--filter", f"label={RUN_WORKER_LABEL}").split()
    logs = "".join(_logs(container_id) for container_id in containers)
    assert len(logs) > 1000
    for value in values:
        assert value not in history
        assert value not in compose_file
        assert value not in logs


def _logs(container: str) -> str:
    """What the container wrote, both streams."""
    result = subprocess.run(["docker", "logs", container], capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


def _deploy_down_leaves_nothing_running(stack: Stack) -> None:
    stack.make("deploy-down", timeout=300)
    left = _docker("ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={PROJECT}")
    left += _docker("ps", "--all", "--quiet", "--filter", f"label={RUN_WORKER_LABEL}")
    assert left.split() == []
