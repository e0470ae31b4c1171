"""deploy/helm/values.yaml against the Dagster chart's own values schema, and in step with the
Compose instance (deploy/dagster.yaml): no cluster is available here to `helm install` into."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
HELM = DEPLOY / "helm"
KUBERNETES_SCHEMAS = "https://kubernetesjsonschema.dev/"


def overlay_schema(node: Any) -> Any:
    """The chart schema as it applies to an overlay, offline.

    Every `required` list is dropped: Helm validates the chart's defaults merged with these
    values, so an overlay naturally omits keys the defaults supply; every key it does give is
    still checked for its name (additionalProperties) and type. References to Kubernetes' own
    object schemas (online, at kubernetesjsonschema.dev) are dropped too: those objects (resources,
    security contexts, secret references) are checked for their JSON type here, and by Kubernetes.
    """
    if isinstance(node, dict):
        return {key: overlay_schema(value) for key, value in node.items()
                if key != "required" and not (key == "$ref" and str(value).startswith(KUBERNETES_SCHEMAS))}
    if isinstance(node, list):
        return [overlay_schema(item) for item in node]
    return node


def overlay_errors(values: dict[str, Any]) -> list[str]:
    """Each problem of `values` as `path: message`, against the chart schema."""
    schema = overlay_schema(json.loads((HELM / "dagster-chart-values.schema.json").read_text()))
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(str(part) for part in error.absolute_path)}: {error.message}"
            for error in validator.iter_errors(values)]


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load((HELM / "values.yaml").read_text())


def test_values_fit_the_chart_schema(values):
    assert overlay_errors(values) == []


@pytest.mark.parametrize("mistake, expected", [
    (lambda v: v["dagsterDaemon"].update(runCoordinatr={}), "runCoordinatr"),
    (lambda v: v["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"].update(
        maxConcurrentRuns="four"), "maxConcurrentRuns"),
    (lambda v: v["runLauncher"].update(type="DockerRunLauncher"), "DockerRunLauncher"),
    (lambda v: v["runLauncher"]["config"]["k8sRunLauncher"].update(envSecret=[]), "envSecret"),
])
def test_a_misspelt_key_or_wrong_type_is_caught(values, mistake, expected):
    wrong = copy.deepcopy(values)
    mistake(wrong)
    errors = overlay_errors(wrong)
    assert errors and any(expected in error for error in errors), errors


def _compose_instance() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text())


def test_kubernetes_and_compose_keep_the_same_limits(values):
    instance = _compose_instance()
    queued = values["dagsterDaemon"]["runCoordinator"]
    assert queued["type"] == "QueuedRunCoordinator"
    limits = queued["config"]["queuedRunCoordinator"]
    assert limits["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert limits["tagConcurrencyLimits"] == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    assert values["additionalInstanceConfig"]["concurrency"]["pools"] == instance["concurrency"]["pools"] == {
        "default_limit": 1, "op_granularity_run_buffer": 2}
    coordinator = instance["run_coordinator"]["config"]
    assert limits["dequeueIntervalSeconds"] == coordinator["dequeue_interval_seconds"]
    assert limits["dequeueUseThreads"] is coordinator["dequeue_use_threads"] is True
    assert limits["dequeueNumWorkers"] == coordinator["dequeue_num_workers"]
    assert values["dagsterDaemon"]["sensors"] == {"useThreads": instance["sensors"]["use_threads"],
                                                  "numWorkers": instance["sensors"]["num_workers"]}
    assert values["dagsterDaemon"]["runMonitoring"]["enabled"] is instance["run_monitoring"]["enabled"] is True
    assert values["runLauncher"]["type"] == "K8sRunLauncher"


def test_the_compose_instance_keeps_the_one_machine_limits():
    """deploy/dagster.yaml differs from the repository's dagster.yaml only in how runs are
    launched and monitored: the same queue, pool, tag and run limits, sensor threads, retries and
    storage."""
    one_machine = yaml.safe_load((DEPLOY.parent / "dagster.yaml").read_text())
    instance = _compose_instance()
    for section in ("storage", "run_coordinator", "concurrency", "sensors", "run_retries", "telemetry"):
        assert instance[section] == one_machine[section], section
    assert instance["run_launcher"]["class"] == "DockerRunLauncher"
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_the_compose_instance_is_valid_dagster_configuration():
    from dagster._core.instance.config import dagster_instance_config

    config, _ = dagster_instance_config(str(DEPLOY), "dagster.yaml")
    assert config["run_monitoring"]["enabled"] is True


def test_the_code_location_keeps_the_name_the_console_launches_in(values):
    from pco_pipeline.console.launch import CODE_LOCATION

    servers = values["dagsterWebserver"]["workspace"]["servers"]
    deployments = values["dagster-user-deployments"]["deployments"]
    assert [server["name"] for server in servers] == [CODE_LOCATION]
    assert [server["host"] for server in servers] == [deployment["name"] for deployment in deployments]
    assert [server["port"] for server in servers] == [deployment["port"] for deployment in deployments]
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    assert [entry["grpc_server"]["location_name"] for entry in workspace["load_from"]] == [CODE_LOCATION]


def _extra_manifests() -> list[dict[str, Any]]:
    return [doc for path in sorted((HELM / "extra").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_extra_manifests_run_the_project_image_as_non_root():
    workloads = [doc for doc in _extra_manifests() if doc["kind"] in ("Deployment", "Job")]
    image = "{repository}:{tag}".format(**yaml.safe_load((HELM / "values.yaml").read_text())[
        "dagster-user-deployments"]["deployments"][0]["image"])
    assert {doc["metadata"]["name"] for doc in workloads} == {
        "pco-pipeline-receiver", "pco-pipeline-console", "pco-pipeline-migrate"}
    for doc in workloads:
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        assert [container["image"] for container in pod["containers"]] == [image]


def test_only_the_receiver_is_meant_for_the_internet():
    services = {doc["metadata"]["name"]: doc for doc in _extra_manifests() if doc["kind"] == "Service"}
    assert services["pco-pipeline-console"]["spec"]["type"] == "ClusterIP"
    assert all(doc["spec"].get("type", "ClusterIP") == "ClusterIP" for doc in services.values())
    values = yaml.safe_load((HELM / "values.yaml").read_text())
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"
