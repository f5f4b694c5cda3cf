"""Bad telemetry settings fail at validation, naming the variable to fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.settings import Settings
from telemetry.worker_metrics import metrics_bind_address, prometheus_runtime


@pytest.mark.parametrize(
    "endpoint",
    ["collector:4318", "otel.example.com", "ftp://otel:21", "http://", "http://otel:99999"],
)
def test_an_endpoint_that_is_no_http_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.setenv("SIGNOFF_OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    with pytest.raises(ValidationError, match="SIGNOFF_OTEL_EXPORTER_OTLP_ENDPOINT"):
        Settings(_env_file=None)


def test_an_endpoint_from_the_environment_switches_tracing_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGNOFF_OTEL_EXPORTER_OTLP_ENDPOINT", "https://otel.example:4318")
    settings = Settings(_env_file=None)
    assert settings.otel_exporter_otlp_endpoint == "https://otel.example:4318"
    monkeypatch.setenv("SIGNOFF_OTEL_EXPORTER_OTLP_ENDPOINT", "")
    assert Settings(_env_file=None).otel_exporter_otlp_endpoint is None


@pytest.mark.parametrize("port", ["-1", "65536", "100000"])
def test_a_metrics_port_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    monkeypatch.setenv("SIGNOFF_WORKER_METRICS_PORT", port)
    with pytest.raises(ValidationError, match="SIGNOFF_WORKER_METRICS_PORT"):
        Settings(_env_file=None)


def test_port_zero_turns_the_worker_metrics_off() -> None:
    assert Settings.model_fields["worker_metrics_port"].default == 9464
    assert prometheus_runtime(Settings(worker_metrics_port=0)) is None


def test_an_ipv6_host_is_bracketed() -> None:
    assert metrics_bind_address(Settings(worker_metrics_host="::", worker_metrics_port=9)) == (
        "[::]:9"
    )
    assert metrics_bind_address(Settings(worker_metrics_host="0.0.0.0")) == "0.0.0.0:9464"
