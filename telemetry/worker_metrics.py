"""The worker's Temporal SDK metrics (task latencies, schedule-to-start, sticky cache, slots)
served for Prometheus by the SDK's own exporter at http://host:port/metrics."""

from __future__ import annotations

import logging

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from config.settings import Settings

log = logging.getLogger(__name__)


def metrics_bind_address(settings: Settings) -> str:
    """host:port of the worker's metrics endpoint (an IPv6 host in brackets)."""
    host = settings.worker_metrics_host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{settings.worker_metrics_port}"


def prometheus_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime exporting the SDK's metrics, or None (the default runtime) when off.

    The worker's client must be connected with it: metrics belong to the runtime a client was
    made with. A port that is already taken is logged and the worker runs without metrics,
    since approvals matter more than their statistics.
    """
    if settings.worker_metrics_port == 0:
        return None
    address = metrics_bind_address(settings)
    # Seconds rather than the SDK's default milliseconds, counters ending in _total: the
    # conventions of Prometheus and of the API's own metrics, so one dashboard reads both.
    config = PrometheusConfig(
        bind_address=address, durations_as_seconds=True, counters_total_suffix=True
    )
    try:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=config))
    except ValueError as error:
        log.error(
            "worker metrics are off: cannot serve them on %s (SIGNOFF_WORKER_METRICS_PORT): %s",
            address,
            error,
        )
        return None
    log.info("worker metrics on http://%s/metrics", address)
    return runtime
