"""The Dockerfile, the chart, compose.yaml and the CLI agree: commands, user, ports, paths."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest
import typer
import yaml

from cli.main import app
from config.settings import Settings
from tests.helm.conftest import CHART, ROOT, Doc

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "temporal-dev" / "compose.yaml"


def instructions(stage: str | None = None) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined; one stage if named."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    parsed = []
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            current = rest.split(" AS ")[-1].strip() if " AS " in rest else rest
        if stage is None or current == stage:
            parsed.append((keyword, " ".join(rest.split())))
    return parsed


def runtime() -> list[tuple[str, str]]:
    return instructions("runtime")


def one(keyword: str) -> str:
    values = [rest for key, rest in runtime() if key == keyword]
    assert len(values) == 1, f"{keyword}: {values}"
    return values[0]


def runtime_env() -> dict[str, str]:
    variables: dict[str, str] = {}
    for key, rest in runtime():
        if key == "ENV":
            for pair in rest.split():
                name, _, value = pair.partition("=")
                variables[name] = value
    return variables


def cli_command(words: list[str]) -> object:
    """The command `signoff WORDS...` runs (through its subcommand groups), or fail."""
    command: Any = typer.main.get_command(app)
    for word in words:
        subcommands = getattr(command, "commands", None)
        assert isinstance(subcommands, dict), f"`signoff {' '.join(words)}`: {word!r} is extra"
        assert word in subcommands, f"`signoff {' '.join(words)}`: no command {word!r}"
        command = subcommands[word]
    assert not isinstance(getattr(command, "commands", None), dict), "a group, not a command"
    assert callable(command.callback)
    return command


def chart_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return values


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


# -- the Dockerfile ---------------------------------------------------------------------------


def test_the_image_is_multi_stage_on_python_slim() -> None:
    stages = [rest for key, rest in instructions() if key == "FROM"]
    assert len(stages) == 2
    assert stages[0].endswith("AS builder") and stages[1].endswith("AS runtime")
    args = dict(rest.split("=", 1) for key, rest in instructions() if key == "ARG")
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert required == ">=3.11"
    builder = " ".join(rest for key, rest in instructions("builder") if key == "RUN")
    assert "pip install ." in builder
    assert "COPY --from=builder /opt/signoff /opt/signoff" in [
        f"COPY {rest}" for key, rest in runtime() if key == "COPY"
    ]


def test_the_runtime_has_tesseract_for_ocr() -> None:
    installs = " ".join(rest for key, rest in runtime() if key == "RUN")
    assert "tesseract-ocr " in installs + " " and "tesseract-ocr-eng" in installs
    assert "--no-install-recommends" in installs


def test_entrypoint_is_signoff_and_the_default_command_is_the_api() -> None:
    assert json.loads(one("ENTRYPOINT")) == ["signoff"]
    assert json.loads(one("CMD")) == ["api"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["signoff"] == "cli.main:main"
    assert runtime_env()["PATH"].startswith("/opt/signoff/bin:")
    cli_command(json.loads(one("CMD")))


def test_the_image_user_is_the_charts_user() -> None:
    uid, _, gid = one("USER").partition(":")
    values = chart_values()
    assert int(uid) == values["podSecurityContext"]["runAsUser"]
    assert int(uid) == values["securityContext"]["runAsUser"]
    assert int(gid) == values["podSecurityContext"]["runAsGroup"]
    assert int(uid) != 0
    assert f"--uid {uid}" in " ".join(rest for key, rest in runtime() if key == "RUN")


def test_the_image_ports_are_the_charts_ports() -> None:
    exposed = {int(port) for port in one("EXPOSE").split()}
    values = chart_values()
    assert exposed == {values["api"]["containerPort"], values["worker"]["metrics"]["port"]}
    variables = runtime_env()
    assert int(variables["SIGNOFF_API_PORT"]) == values["api"]["containerPort"]
    assert variables["SIGNOFF_API_HOST"] == "0.0.0.0"


def test_the_only_writable_folder_is_the_charts_data_volume(
    rendered: dict[str, list[Doc]],
) -> None:
    data_dir = runtime_env()["SIGNOFF_DATA_DIR"]
    api = next(
        d
        for d in rendered["default"]
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "signoff-api"
    )
    mounts = {
        m["name"]: m["mountPath"]
        for m in api["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    }
    assert mounts == {"tmp": "/tmp", "data": data_dir}
    assert f"chown 10001:10001 {data_dir}" in " ".join(
        rest for key, rest in runtime() if key == "RUN"
    )
    assert compose()["x-signoff"]["tmpfs"] == ["/tmp", data_dir]


def test_dockerignore_lets_in_exactly_the_packaged_code() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"  # an allow-list: no .venv, .git, .signoff or tests in the context
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    packages = {name.rstrip("*") for name in find["find"]["include"]}
    assert allowed == packages | {"pyproject.toml", "README.md"}


# -- the commands the chart and compose run ---------------------------------------------------


def test_every_command_the_chart_runs_exists(rendered: dict[str, list[Doc]]) -> None:
    commands = set()
    for docs in rendered.values():
        for doc in docs:
            if doc["kind"] in {"Deployment", "Job"}:
                for container in doc["spec"]["template"]["spec"]["containers"]:
                    assert "command" not in container  # the image's ENTRYPOINT (signoff) runs
                    commands.add(tuple(container["args"]))
    assert commands == {
        ("api",),
        ("worker",),
        ("db", "upgrade"),
        ("temporal", "register-search-attributes"),
    }
    for words in commands:
        cli_command(list(words))


@pytest.mark.parametrize("words", [["nope"], ["db"], ["api", "extra"], ["db", "downgrade"]])
def test_the_command_check_refuses_what_signoff_cannot_run(words: list[str]) -> None:
    with pytest.raises(AssertionError):
        cli_command(words)


# -- compose.yaml -----------------------------------------------------------------------------


def test_compose_has_the_whole_local_stack() -> None:
    services = compose()["services"]
    assert set(services) >= {
        "postgresql",
        "temporal",
        "temporal-register",
        "temporal-ui",
        "seaweedfs",
        "mailpit",
        "migrate",
        "api",
        "worker",
    }
    assert services["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert services["temporal-register"]["entrypoint"] == ["/bin/sh", "/register.sh"]
    assert services["temporal-register"]["volumes"] == [
        "./register-search-attributes.sh:/register.sh:ro"
    ]


def test_compose_builds_one_image_for_migration_api_and_worker() -> None:
    services = compose()["services"]
    signoff = [services[name] for name in ("migrate", "api", "worker")]
    assert all(
        s["build"] == signoff[0]["build"] and s["image"] == signoff[0]["image"] for s in signoff
    )
    build = signoff[0]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    for service, words in zip(signoff, (["db", "upgrade"], ["api"], ["worker"]), strict=True):
        assert service["command"] == words
        cli_command(words)
        assert service["read_only"] is True


def test_compose_starts_things_in_order_and_checks_their_health() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            condition = rule["condition"]
            assert condition in {"service_healthy", "service_completed_successfully"}, name
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits on {dependency}"
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"] == {"condition": "service_completed_successfully"}
        assert depends["temporal-register"] == {"condition": "service_completed_successfully"}
        assert "healthcheck" in services[name]
    assert services["migrate"]["depends_on"]["postgresql"] == {"condition": "service_healthy"}


def test_compose_points_signoff_at_the_compose_services() -> None:
    document = compose()
    variables = document["x-signoff"]["environment"]
    services = document["services"]
    assert variables["SIGNOFF_TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "@postgresql:5432/" in variables["SIGNOFF_DATABASE_URL"]
    assert variables["SIGNOFF_S3_ENDPOINT_URL"] == "http://seaweedfs:8333"
    assert variables["SIGNOFF_SMTP_HOST"] == "mailpit"
    assert variables["SIGNOFF_WORKER_METRICS_HOST"] == "0.0.0.0"
    s3 = json.loads(document["configs"]["seaweedfs-s3"]["content"])
    credentials = s3["identities"][0]["credentials"][0]
    assert credentials == {
        "accessKey": variables["SIGNOFF_S3_ACCESS_KEY"],
        "secretKey": variables["SIGNOFF_S3_SECRET_KEY"],
    }
    assert f"-name {variables['SIGNOFF_S3_BUCKET']}" in services["seaweedfs-bucket"]["command"][0]
    known = {f"SIGNOFF_{name.upper()}" for name in Settings.model_fields}
    assert set(variables) - known == set()


@pytest.mark.parametrize("service", ["api", "worker"])
def test_compose_services_publish_the_image_ports(service: str) -> None:
    ports = compose()["services"][service]["ports"]
    exposed = {int(port) for port in one("EXPOSE").split()}
    assert {int(p.rsplit(":", 1)[1]) for p in ports} <= exposed
