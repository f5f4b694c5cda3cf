"""The worker's Temporal SDK metrics, served for Prometheus by its runtime."""

from __future__ import annotations

import logging
import socket

import pytest

from config.settings import Settings
from telemetry.worker_metrics import prometheus_runtime
from tests.telemetry.conftest import WORKER_METRICS, Scenario


async def test_the_worker_serves_the_sdk_metrics_for_prometheus(scenario: Scenario) -> None:
    metrics = scenario.worker_metrics
    for name in WORKER_METRICS:
        assert name in metrics.samples
    # The approval was a later workflow task on the same worker: served from its cache.
    assert metrics.value("temporal_sticky_cache_hit_total") >= 1
    # Durations are in seconds, not the SDK's default milliseconds (buckets 50, 100, ... 60000).
    buckets = metrics.samples["temporal_activity_execution_latency_bucket"]
    assert {"0.05", "0.1", "60"} <= {labels["le"] for labels, _ in buckets}
    assert metrics.value("temporal_activity_execution_latency_bucket", le="60") > 0
    assert (
        metrics.value(
            "temporal_activity_execution_latency_count", activity_type="resolve_approvers"
        )
        >= 1
    )


def test_a_taken_port_leaves_the_worker_running_without_metrics(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="telemetry.worker_metrics"):
            assert prometheus_runtime(Settings(worker_metrics_port=port)) is None
    assert "SIGNOFF_WORKER_METRICS_PORT" in caplog.text
