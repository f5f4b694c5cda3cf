"""Telemetry setup: OpenTelemetry tracing, the worker's SDK metrics, read-model gauges."""
