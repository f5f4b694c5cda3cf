"""The Helm chart's validity: it lints strictly, renders objects valid for Kubernetes, its
values schema refuses bad values, and the Grafana dashboard it can ship is the one copied in."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import kubernetes_validate
import pytest

from tests.helm.chart_objects import FULLNAME, named, of_kind
from tests.helm.conftest import CHART, EXAMPLES, RELEASE, ROOT, SCENARIOS, Doc, Render, run_helm

KUBERNETES_VERSION = "1.31"


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
