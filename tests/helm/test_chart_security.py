"""The Helm chart's security: every pod unprivileged on a read-only root, and secrets only ever
read from the existing Secret, never put in a ConfigMap."""

from __future__ import annotations

import pytest

from tests.helm.chart_objects import (
    POD_KINDS,
    configmap_data,
    deployment,
    env,
    of_kind,
    only_container,
    pod_spec,
)
from tests.helm.conftest import SCENARIOS, Doc, Render

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


# -- unprivileged pods ------------------------------------------------------------------------


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


# -- secrets ----------------------------------------------------------------------------------


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
