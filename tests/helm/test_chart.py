"""The Helm chart: lint, valid Kubernetes objects, and what an operator relies on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from config.settings import Settings
from tests.helm.conftest import (
    CHART,
    EXAMPLES,
    RELEASE,
    ROOT,
    SCENARIOS,
    Doc,
    Render,
    run_helm,
)

KUBERNETES_VERSION = "1.31"
FULLNAME = RELEASE  # the release is named like the chart
DATA_DIR = "/var/lib/signoff"
SECRET_VARIABLES = {
    "SIGNOFF_SECRET_KEY",
    "SIGNOFF_ENCRYPTION_KEYS",
    "SIGNOFF_DATABASE_URL",
    "SIGNOFF_S3_SECRET_KEY",
    "SIGNOFF_SMTP_PASSWORD",
    "SIGNOFF_TEMPORAL_API_KEY",
    "SIGNOFF_REPLY_IMAP_PASSWORD",
}
POD_KINDS = {"Deployment", "Job", "Pod"}


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    matches = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def pod_spec(doc: Doc) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
    return spec


def only_container(doc: Doc) -> dict[str, Any]:
    containers: list[dict[str, Any]] = pod_spec(doc)["containers"]
    assert len(containers) == 1
    return containers[0]


def env(container: dict[str, Any]) -> dict[str, Any]:
    """name -> value, or the valueFrom mapping."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def configmap_data(docs: list[Doc]) -> dict[str, str]:
    data: dict[str, str] = named(docs, "ConfigMap", FULLNAME)["data"]
    return data


def deployment(docs: list[Doc], component: str) -> Doc:
    return named(docs, "Deployment", f"{FULLNAME}-{component}")


def template_labels(doc: Doc) -> dict[str, str]:
    labels: dict[str, str] = doc["spec"]["template"]["metadata"]["labels"]
    return labels


# -- lint and schema validity ------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_chart_lints_strictly(helm: Path, scenario: str) -> None:
    done = run_helm(helm, "lint", "--strict", str(CHART), *SCENARIOS[scenario])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_rendered_object_is_valid_for_kubernetes(
    rendered: dict[str, list[Doc]], scenario: str
) -> None:
    docs = rendered[scenario]
    assert len(docs) >= 10
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_temporal_cloud_example_lints_on_its_own(helm: Path) -> None:
    done = run_helm(
        helm, "lint", "--strict", str(CHART), "-f", str(EXAMPLES / "temporal-cloud.yaml")
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "setting",
    [
        "api.replicas=notanumber",
        "worker.autoscaling.maxReplicas=lots",
        "image.pullPolicy=Sometimes",
        "temporal.address=temporal-frontend-without-port",
        "existingSecret=",
        "secretKeys.databaseUrl=",
        "secretKeys.encryptionKeys=",
        "config.extraEnv.SIGNOFF_SMTP_PASSWORD=hunter2",
        "config.extraEnv.SIGNOFF_ENCRYPTION_KEYS=k1:AAAA",
        "config.extraEnv.NOT_SIGNOFF=1",
        "api.typo=1",
    ],
)
def test_the_values_schema_refuses_bad_values(helm: Path, setting: str) -> None:
    done = run_helm(helm, "template", RELEASE, str(CHART), "--set", setting)
    assert done.returncode != 0, f"{setting} was accepted"
    assert "schema" in done.stderr, done.stderr


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


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_pod_runs_unprivileged_on_a_read_only_root(
    rendered: dict[str, list[Doc]], scenario: str
) -> None:
    pods = [doc for doc in rendered[scenario] if doc["kind"] in POD_KINDS]
    assert len(pods) >= 4  # api, worker, migration, helm test
    for doc in pods:
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            if doc["kind"] != "Pod":  # the helm test pod writes nothing
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                assert mounts["/tmp"] == "tmp" and mounts[DATA_DIR] == "data"
                volumes = {v["name"]: v for v in spec["volumes"]}
                assert "emptyDir" in volumes["tmp"] and "emptyDir" in volumes["data"]
    assert configmap_data(rendered[scenario])["SIGNOFF_DATA_DIR"] == DATA_DIR


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


# -- configuration and secrets ----------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_secret_is_ever_in_a_configmap(rendered: dict[str, list[Doc]], scenario: str) -> None:
    docs = rendered[scenario]
    assert of_kind(docs, "Secret") == []  # the chart never makes one: it reads existingSecret
    for configmap in of_kind(docs, "ConfigMap"):
        data = configmap.get("data", {})
        assert not SECRET_VARIABLES & set(data), configmap["metadata"]["name"]
        for value in data.values():
            assert "://" not in value or "@" not in value.split("://", 1)[1].split("/")[0], value


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_variable_the_chart_sets_is_a_signoff_setting(
    rendered: dict[str, list[Doc]], scenario: str
) -> None:
    known = {f"SIGNOFF_{name.upper()}" for name in Settings.model_fields}
    docs = rendered[scenario]
    names = set(configmap_data(docs))
    for doc in docs:
        if doc["kind"] in POD_KINDS:
            for container in pod_spec(doc)["containers"]:
                names |= {name for name in env(container) if name.startswith("SIGNOFF_")}
    assert names - known == set()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_secrets_come_from_the_existing_secret(
    rendered: dict[str, list[Doc]], scenario: str
) -> None:
    docs = rendered[scenario]
    for component in ("api", "worker"):
        variables = env(only_container(deployment(docs, component)))
        for name, key in (
            ("SIGNOFF_SECRET_KEY", "secret-key"),
            ("SIGNOFF_ENCRYPTION_KEYS", "encryption-keys"),
            ("SIGNOFF_DATABASE_URL", "database-url"),
        ):
            assert variables[name] == {"secretKeyRef": {"name": "signoff-secrets", "key": key}}
        for name in SECRET_VARIABLES & set(variables):
            assert set(variables[name]) == {"secretKeyRef"}
            assert variables[name]["secretKeyRef"]["name"] == "signoff-secrets"


def test_secret_names_and_keys_come_from_values(render: Render) -> None:
    docs = render(
        "--set",
        "existingSecret=vault-synced",
        "--set",
        "secretKeys.databaseUrl=DB_URL",
        "--set",
        "secretKeys.smtpPassword=smtp",
    )
    variables = env(only_container(deployment(docs, "worker")))
    assert variables["SIGNOFF_DATABASE_URL"] == {
        "secretKeyRef": {"name": "vault-synced", "key": "DB_URL"}
    }
    assert variables["SIGNOFF_SMTP_PASSWORD"] == {
        "secretKeyRef": {"name": "vault-synced", "key": "smtp"}
    }
    assert "SIGNOFF_TEMPORAL_API_KEY" not in variables  # not named: not read


def test_production_example_configures_the_external_services(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = rendered["production"]
    config = configmap_data(docs)
    assert config["SIGNOFF_TEMPORAL_ADDRESS"] == "temporal-frontend.temporal.svc.cluster.local:7233"
    assert config["SIGNOFF_TEMPORAL_TLS"] == "false"
    assert config["SIGNOFF_S3_BUCKET"] == "signoff-documents"
    assert config["SIGNOFF_SMTP_HOST"] == "smtp.example.com"
    assert config["SIGNOFF_SMTP_STARTTLS"] == "true"
    # Numbers in config.extraEnv stay as written (YAML numbers arrive in Helm as floats).
    assert config["SIGNOFF_UPLOAD_MAX_BYTES"] == "20971520"
    assert config["SIGNOFF_OTEL_EXPORTER_OTLP_ENDPOINT"].endswith(":4318")
    assert "SIGNOFF_OTEL_EXPORTER_OTLP_ENDPOINT" not in configmap_data(rendered["default"])
    # The search attributes are registered by a hook on the self-hosted cluster.
    job = named(docs, "Job", f"{FULLNAME}-search-attributes")
    assert only_container(job)["args"] == ["temporal", "register-search-attributes"]
    assert "SIGNOFF_TEMPORAL_API_KEY" not in env(only_container(job))
    assert not [d for d in of_kind(rendered["default"], "Job") if "search" in d["metadata"]["name"]]


def test_temporal_cloud_example_uses_tls_and_the_api_key_from_the_secret(
    rendered: dict[str, list[Doc]],
) -> None:
    docs = rendered["temporal-cloud"]
    config = configmap_data(docs)
    assert config["SIGNOFF_TEMPORAL_ADDRESS"].endswith(".tmprl.cloud:7233")
    assert config["SIGNOFF_TEMPORAL_TLS"] == "true"
    assert "SIGNOFF_TEMPORAL_API_KEY" not in config
    for component in ("api", "worker"):
        variables = env(only_container(deployment(docs, component)))
        assert variables["SIGNOFF_TEMPORAL_API_KEY"] == {
            "secretKeyRef": {"name": "signoff-secrets", "key": "temporal-api-key"}
        }
    # Cloud namespaces get their search attributes through tcld, not an operator hook.
    assert [d["metadata"]["name"] for d in of_kind(docs, "Job")] == [f"{FULLNAME}-migrate"]
    assert "SIGNOFF_TEMPORAL_API_KEY" not in env(only_container(of_kind(docs, "Job")[0]))


def test_config_changes_roll_the_pods(render: Render) -> None:
    def checksum(docs: list[Doc]) -> str:
        value: str = deployment(docs, "api")["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]
        return value

    assert checksum(render()) != checksum(render("--set", "temporal.namespace=other"))


# -- the Grafana dashboard --------------------------------------------------------------------


def test_the_dashboard_configmap_embeds_the_dashboard_copied_into_the_chart(
    render: Render, helm: Path, tmp_path: Path
) -> None:
    chart = tmp_path / "signoff"
    shutil.copytree(CHART, chart)
    (chart / "dashboards" / "signoff-dashboard.json").unlink(missing_ok=True)
    missing = run_helm(helm, "template", RELEASE, str(chart), "--set", "dashboards.enabled=true")
    assert missing.returncode != 0
    assert "cp temporal-dev/grafana/signoff-dashboard.json" in missing.stderr

    source = ROOT / "temporal-dev" / "grafana" / "signoff-dashboard.json"
    dashboard = (
        source.read_text()
        if source.is_file()
        else json.dumps({"title": "Signoff", "panels": [], "schemaVersion": 39}, indent=2)
    )
    (chart / "dashboards" / "signoff-dashboard.json").write_text(dashboard)
    docs = render("--set", "dashboards.enabled=true", chart=chart)
    configmap = named(docs, "ConfigMap", f"{FULLNAME}-dashboard")
    kubernetes_validate.validate(configmap, KUBERNETES_VERSION, strict=True)
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(configmap["data"]["signoff-dashboard.json"]) == json.loads(dashboard)
    names = [d["metadata"]["name"] for d in of_kind(render(chart=chart), "ConfigMap")]
    assert names == [FULLNAME]  # off by default
