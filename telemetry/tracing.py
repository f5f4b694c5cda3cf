"""OpenTelemetry tracing: one trace from the HTTP request through the workflow to its activities.

The HTTP server span is FastAPI's own (native since FastAPI 0.142, made whenever a tracer provider
is installed); the Temporal interceptor continues its context into the workflow and activities.
Off unless SIGNOFF_OTEL_EXPORTER_OTLP_ENDPOINT is set: then no provider is installed and no
interceptor added, so tracing costs nothing. The SDK, the exporter and the interceptor are
imported only when tracing is on, which keeps the CLI quick to start.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from temporalio.client import Client

from config.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from temporalio.contrib.opentelemetry import TracingInterceptor

log = logging.getLogger(__name__)

API_SERVICE = "signoff-api"
WORKER_SERVICE = "signoff-worker"
TRACES_PATH = "/v1/traces"


def tracing_enabled(settings: Settings) -> bool:
    """Spans are made and exported only when an OTLP collector is configured."""
    return settings.otel_exporter_otlp_endpoint is not None


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector's base URL (as OTEL_EXPORTER_OTLP_ENDPOINT)."""
    base = endpoint.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def install_tracing(
    settings: Settings, service_name: str, *, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Install the process's tracer provider exporting to the collector; None when tracing is off.

    `exporter` replaces the OTLP exporter (tests hand in an in-memory one).
    """
    if settings.otel_exporter_otlp_endpoint is None:
        return None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    chosen = exporter or OTLPSpanExporter(endpoint=traces_url(settings.otel_exporter_otlp_endpoint))
    provider.add_span_processor(BatchSpanProcessor(chosen))
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        # OpenTelemetry keeps the first provider of a process and ignores later ones.
        log.warning("a tracer provider was already installed; spans go to that one")
    return provider


def shutdown_tracing(provider: TracerProvider | None) -> None:
    """Export what is still buffered (the CLI leaves with os._exit, so atexit never runs)."""
    if provider is not None:
        provider.shutdown()


def flush_tracing(timeout_seconds: float = 5.0) -> None:
    """Export the spans still buffered by the installed provider, if there is one.

    The API's last chance: after its shutdown uvicorn raises SIGTERM again, which ends the
    process before anything after `Server.run()` could export them.
    """
    from opentelemetry import trace

    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if callable(flush):
        flush(int(timeout_seconds * 1000))


def tracing_interceptors(settings: Settings) -> list[TracingInterceptor]:
    """The Temporal client's interceptors: the tracing one when tracing is on, else none."""
    if not tracing_enabled(settings):
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def worker_tracing_interceptors(client: Client, settings: Settings) -> list[TracingInterceptor]:
    """The worker's tracing interceptor, unless its client already brings one.

    A worker runs every client interceptor that is also a worker interceptor; adding a second
    would make every workflow and activity span twice.
    """
    if not tracing_enabled(settings):
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    present = client.config().get("interceptors", [])
    if any(isinstance(interceptor, TracingInterceptor) for interceptor in present):
        return []
    return [TracingInterceptor()]
