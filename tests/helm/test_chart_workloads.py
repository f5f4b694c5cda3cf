"""The Helm chart's workloads: the API and the worker as separate Deployments of one image,
probed and scraped, autoscaled with disruption budgets, and the migration hook before them."""

from __future__ import annotations

import pytest

from tests.helm.chart_objects import (
    FULLNAME,
    configmap_data,
    deployment,
    env,
    named,
    of_kind,
    only_container,
    pod_spec,
    template_labels,
)
from tests.helm.conftest import SCENARIOS, Doc, Render

# -- the two processes ------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_api_and_worker_are_separate_deployments_of_one_image(
    rendered: dict[str, list[Doc]], scenario: str
) -> None:
    docs = rendered[scenario]
    assert sorted(d["metadata"]["name"] for d in of_kind(docs, "Deployment")) == [
        f"{FULLNAME}-api",
        f"{FULLNAME}-worker",
    ]
    api, worker = (
        only_container(deployment(docs, "api")),
        only_container(deployment(docs, "worker")),
    )
    # The image's ENTRYPOINT is `signoff`; the chart only chooses the command.
    assert "command" not in api and "command" not in worker
    assert api["args"] == ["api"]
    assert worker["args"] == ["worker"]
    assert api["image"] == worker["image"]
    for container in (api, worker):
        assert container["envFrom"] == [{"configMapRef": {"name": FULLNAME}}]
    # Selectors tell the two apart, so the Service and the PDBs pick the right pods.
    api_labels = template_labels(deployment(docs, "api"))
    worker_labels = template_labels(deployment(docs, "worker"))
    assert api_labels["app.kubernetes.io/component"] == "api"
    assert worker_labels["app.kubernetes.io/component"] == "worker"


def test_the_image_defaults_to_the_app_version_and_can_be_pinned(render: Render) -> None:
    docs = render()
    assert only_container(deployment(docs, "api"))["image"] == "signoff:0.1.0"
    digest = "sha256:" + "a" * 64
    pinned = render(
        "--set", "image.repository=registry.example.com/signoff", "--set", f"image.digest={digest}"
    )
    for doc in of_kind(pinned, "Deployment") + of_kind(pinned, "Job"):
        assert only_container(doc)["image"] == f"registry.example.com/signoff@{digest}"


def test_the_api_is_probed_on_its_health_endpoints(rendered: dict[str, list[Doc]]) -> None:
    api = only_container(deployment(rendered["default"], "api"))
    assert api["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert api["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert api["startupProbe"]["httpGet"]["path"] == "/health/live"
    annotations = deployment(rendered["default"], "api")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "8000"
    assert annotations["prometheus.io/path"] == "/metrics"
    config = configmap_data(rendered["default"])
    assert config["SIGNOFF_API_HOST"] == "0.0.0.0"
    assert config["SIGNOFF_API_PORT"] == "8000"


def test_the_service_and_ingress_reach_the_api_pods(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["production"]
    service = named(docs, "Service", f"{FULLNAME}-api")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    labels = template_labels(deployment(docs, "api"))
    assert service["spec"]["selector"].items() <= labels.items()
    assert (
        not service["spec"]["selector"].items()
        <= template_labels(deployment(docs, "worker")).items()
    )
    ingress = named(docs, "Ingress", FULLNAME)
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": f"{FULLNAME}-api", "port": {"name": "http"}}
    # Links in e-mails use the Ingress host when no public URL is set.
    assert configmap_data(docs)["SIGNOFF_PUBLIC_URL"] == "https://signoff.example.com"
    assert of_kind(rendered["default"], "Ingress") == []


def test_the_worker_is_scraped_and_probed_on_its_metrics_port(render: Render) -> None:
    docs = render()
    worker_deployment = deployment(docs, "worker")
    worker = only_container(worker_deployment)
    assert worker["ports"] == [{"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]
    assert worker["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert "readinessProbe" not in worker  # nothing routes traffic to a worker
    variables = env(worker)
    assert variables["SIGNOFF_WORKER_METRICS_PORT"] == "9464"
    assert variables["SIGNOFF_WORKER_METRICS_HOST"] == "0.0.0.0"
    annotations = worker_deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9464"
    assert annotations["prometheus.io/path"] == "/metrics"
    # Activities get their grace period, and Kubernetes waits a little longer than that.
    assert variables["SIGNOFF_WORKER_GRACEFUL_SHUTDOWN_SECONDS"] == "30"
    assert pod_spec(worker_deployment)["terminationGracePeriodSeconds"] == 45

    quiet = render("--set", "worker.metrics.enabled=false")
    worker = only_container(deployment(quiet, "worker"))
    assert "ports" not in worker and "livenessProbe" not in worker
    assert env(worker)["SIGNOFF_WORKER_METRICS_PORT"] == "0"
    annotations = deployment(quiet, "worker")["spec"]["template"]["metadata"]["annotations"]
    assert "prometheus.io/scrape" not in annotations


# -- scaling and disruptions ------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_each_deployment_has_a_cpu_autoscaler_and_a_disruption_budget(
    rendered: dict[str, list[Doc]], scenario: str
) -> None:
    docs = rendered[scenario]
    for component in ("api", "worker"):
        target = deployment(docs, component)
        assert "replicas" not in target["spec"]  # the HPA owns the replica count
        hpa = named(docs, "HorizontalPodAutoscaler", f"{FULLNAME}-{component}")
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": target["metadata"]["name"],
        }
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        (metric,) = hpa["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"
        # CPU utilisation needs CPU requests.
        assert only_container(target)["resources"]["requests"]["cpu"]
        pdb = named(docs, "PodDisruptionBudget", f"{FULLNAME}-{component}")
        assert pdb["spec"]["selector"]["matchLabels"].items() <= template_labels(target).items()
        assert ("minAvailable" in pdb["spec"]) != ("maxUnavailable" in pdb["spec"])


def test_fixed_replicas_without_autoscaling(render: Render) -> None:
    docs = render(
        "--set",
        "api.autoscaling.enabled=false",
        "--set",
        "worker.autoscaling.enabled=false",
        "--set",
        "api.replicas=3",
        "--set",
        "worker.pdb.enabled=false",
    )
    assert of_kind(docs, "HorizontalPodAutoscaler") == []
    assert deployment(docs, "api")["spec"]["replicas"] == 3
    assert deployment(docs, "worker")["spec"]["replicas"] == 2
    assert [d["metadata"]["name"] for d in of_kind(docs, "PodDisruptionBudget")] == [
        f"{FULLNAME}-api"
    ]


# -- migrations -------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook(
    rendered: dict[str, list[Doc]], scenario: str
) -> None:
    docs = rendered[scenario]
    job = named(docs, "Job", f"{FULLNAME}-migrate")
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {
        "before-hook-creation",
        "hook-succeeded",
    }
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    container = only_container(job)
    assert container["args"] == ["db", "upgrade"]
    assert container["image"] == only_container(deployment(docs, "api"))["image"]
    # At pre-install the release's ConfigMap and ServiceAccount do not exist yet: the Job
    # carries the same settings itself and does not name the chart's account.
    assert "envFrom" not in container
    assert "serviceAccountName" not in spec
    variables = env(container)
    config = configmap_data(docs)
    assert {k: v for k, v in variables.items() if k in config} == config
    assert variables["SIGNOFF_DATABASE_URL"]["secretKeyRef"]["key"] == "database-url"
    assert set(variables) - set(config) == {"SIGNOFF_DATABASE_URL"}  # only the secret it needs
    # Nothing else is a hook that would have to run before it.
    hooks = [d for d in docs if "helm.sh/hook" in d["metadata"].get("annotations", {})]
    assert {d["kind"] for d in hooks} <= {"Job", "Pod"}


def test_the_migration_can_be_turned_off(render: Render) -> None:
    assert not [d for d in of_kind(render("--set", "migration.enabled=false"), "Job")]
