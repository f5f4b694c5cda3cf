"""Finding things in the chart's rendered objects: by kind and name, a pod's only
container, its environment, and the release's ConfigMap."""

from __future__ import annotations

from typing import Any

from tests.helm.conftest import RELEASE, Doc

FULLNAME = RELEASE  # the release is named like the chart
POD_KINDS = {"Deployment", "Job", "Pod"}


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    """The objects of one kind."""
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    """The one object of this kind and name."""
    matches = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def pod_spec(doc: Doc) -> dict[str, Any]:
    """The pod spec of a Pod, or of a Deployment's or Job's pod template."""
    spec: dict[str, Any] = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
    return spec


def only_container(doc: Doc) -> dict[str, Any]:
    """The pod's one container."""
    containers: list[dict[str, Any]] = pod_spec(doc)["containers"]
    assert len(containers) == 1, f"{len(containers)} containers"
    return containers[0]


def env(container: dict[str, Any]) -> dict[str, Any]:
    """name -> value, or the valueFrom mapping."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def configmap_data(docs: list[Doc]) -> dict[str, str]:
    """The data of the release's ConfigMap."""
    data: dict[str, str] = named(docs, "ConfigMap", FULLNAME)["data"]
    return data


def deployment(docs: list[Doc], component: str) -> Doc:
    """The Deployment of one component (api or worker)."""
    return named(docs, "Deployment", f"{FULLNAME}-{component}")


def template_labels(doc: Doc) -> dict[str, str]:
    """The labels of a Deployment's pod template."""
    labels: dict[str, str] = doc["spec"]["template"]["metadata"]["labels"]
    return labels
