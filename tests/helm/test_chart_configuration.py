"""The Helm chart's configuration: only Signoff's settings, the README's examples wiring up the
external services, and pods that roll when the configuration changes."""

from __future__ import annotations

import pytest

from config.settings import Settings
from tests.helm.chart_objects import (
    FULLNAME,
    POD_KINDS,
    configmap_data,
    deployment,
    env,
    named,
    of_kind,
    only_container,
    pod_spec,
)
from tests.helm.conftest import SCENARIOS, Doc, Render


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
