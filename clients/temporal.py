"""Connecting to Temporal the same way everywhere: pydantic payloads, TLS, API key, tracing."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from config.settings import Settings
from telemetry.tracing import tracing_interceptors


async def connect_temporal(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """A client for the configured namespace with Signoff's data converter.

    A lazy client connects on first use, so a process can start while Temporal is down. With
    tracing on, the client carries the OpenTelemetry interceptor (so do workers built on it); a
    runtime (the worker's, with Prometheus metrics) replaces the SDK's default one.
    """
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        tls=settings.temporal_tls or bool(api_key),
        api_key=api_key,
        lazy=lazy,
        interceptors=tracing_interceptors(settings),
        runtime=runtime,
    )
