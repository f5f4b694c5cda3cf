"""Tracing and metrics for real, once for the package: a purchase started and approved through
the API app (in process, over ASGI) and run by a worker on the dev server, with tracing on (spans
to an in-memory exporter) and the worker's Prometheus runtime serving its SDK metrics."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from clients.temporal import connect_temporal
from config.settings import Settings
from devstack.demo import seed_demo
from store.db import transaction
from store.invoice_tables import InvoiceRecord
from store.tables import RequestLevelRecord, RequestRecord
from telemetry.tracing import API_SERVICE, install_tracing
from telemetry.worker_metrics import prometheus_runtime
from tests.api.conftest import free_port, login, start_purchase
from tests.telemetry.exposition import Exposition, parse_exposition
from workers.approval_worker import build_worker

T = TypeVar("T")

# What the worker's SDK must expose (names as the Core SDK emits them with Signoff's runtime).
WORKER_METRICS = (
    "temporal_workflow_task_schedule_to_start_latency_bucket",
    "temporal_workflow_task_execution_latency_bucket",
    "temporal_activity_schedule_to_start_latency_bucket",
    "temporal_activity_execution_latency_bucket",
    "temporal_sticky_cache_hit_total",
    "temporal_sticky_cache_size",
)


@dataclass
class Scenario:
    """What the traced request left behind: its spans and both metrics endpoints' expositions."""

    request_id: str
    spans: list[ReadableSpan]
    api_metrics: Exposition
    worker_metrics: Exposition
    seeded_template: str


async def poll(probe: Callable[[], Awaitable[T | None]], what: str, seconds: float = 30) -> T:
    """Ask until the probe answers something; fail naming what never came."""
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.1)


def trace_of(spans: list[ReadableSpan], request_id: str) -> list[ReadableSpan] | None:
    """The spans of the trace that started this request, once one of its activities ran."""
    starts = [
        s
        for s in spans
        if s.name == "StartUpdateWithStartWorkflow:ApprovalWorkflow"
        and (s.attributes or {}).get("temporalWorkflowID") == request_id
    ]
    if not starts or starts[0].context is None:
        return None
    trace_id = starts[0].context.trace_id
    found = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
    names = {s.name for s in found}
    if "RunWorkflow:ApprovalWorkflow" in names and any(n.startswith("RunActivity:") for n in names):
        return found
    return None


def seed_read_model(engine: Engine) -> str:
    """Rows of an org of its own: one request with a breached level and a parked invoice.

    No workflow breaches a TAT within a test's seconds; these give the breach gauge a sample.
    Returns the request's (unique) template key.
    """
    now = datetime.now(UTC)
    org, template = f"telemetry-{uuid.uuid4().hex[:8]}", f"tpl-{uuid.uuid4().hex[:8]}"
    request_id = f"req-{org}"
    with transaction(engine) as session:
        session.add(
            RequestRecord(
                id=request_id,
                org_id=org,
                template_key=template,
                template_version=1,
                title="breached",
                requester="nobody",
                priority="NORMAL",
                status="IN_PROGRESS",
                sla_state="BREACHED",
                created_at=now,
                updated_at=now,
                version=1,
                snapshot={},
            )
        )
        for level_id, breached in (("L1", True), ("L2", True), ("L3", False)):
            session.add(
                RequestLevelRecord(
                    request_id=request_id,
                    level_id=level_id,
                    org_id=org,
                    position=int(level_id[1]),
                    name=level_id,
                    status="PENDING",
                    mode="any",
                    approvers=[],
                    breached=breached,
                )
            )
        session.add(
            InvoiceRecord(
                id=f"inv-{org}",
                org_id=org,
                source="upload",
                status="NEEDS_REVIEW",
                step="validate",
                detail={},
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
    return template


@pytest.fixture(scope="package")
async def scenario(
    dev_env: WorkflowEnvironment,
    test_settings: Settings,
    engine: Engine,
    activity_executor: ThreadPoolExecutor,
) -> AsyncIterator[Scenario]:
    """Start and approve a purchase through the API with tracing on; collect what it left."""
    seed_demo(engine)
    seeded_template = seed_read_model(engine)
    metrics_port = free_port()
    settings = test_settings.model_copy(
        update={
            "temporal_address": dev_env.client.service_client.config.target_host,
            "task_queue": f"telemetry-{uuid.uuid4().hex[:8]}",
            # Only switches tracing on: the spans go to the in-memory exporter below.
            "otel_exporter_otlp_endpoint": "http://127.0.0.1:4318",
            "worker_metrics_port": metrics_port,
        }
    )
    exporter = InMemorySpanExporter()
    provider = install_tracing(settings, API_SERVICE, exporter=exporter)
    assert isinstance(provider, TracerProvider)
    runtime = prometheus_runtime(settings)
    assert runtime is not None, "the worker's metrics port could not be bound"
    # Two clients as in production: the worker's on its Prometheus runtime, the API's own.
    worker_client = await connect_temporal(settings, runtime=runtime)
    api_client = await connect_temporal(settings)
    worker = build_worker(worker_client, settings, engine, activity_executor)
    app = create_app(settings, temporal=api_client)
    transport = httpx.ASGITransport(app=app)
    async with (
        worker,
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api.test", timeout=30) as http,
    ):
        started = await start_purchase(http, await login(http, "rita@acme.test"))
        request_id = str(started["request"]["request_id"])  # type: ignore[index]
        approved = await http.post(
            f"/api/v1/requests/{request_id}/approve",
            json={"comment": "traced"},
            headers=await login(http, "alice@acme.test"),
        )
        assert approved.status_code == 200, approved.text

        async def traced() -> list[ReadableSpan] | None:
            provider.force_flush()
            return trace_of(list(exporter.get_finished_spans()), request_id)

        await poll(traced, "the request's trace to reach an activity")

        async def projected() -> bool:
            with Session(engine) as session:
                row = session.get(RequestRecord, request_id)
                return row is not None and row.current_level_id != "L1"

        # Scraped once the read model shows the approval, so the gauges count this request.
        await poll(projected, "the read model to show the approval")
        api_metrics = parse_exposition((await http.get("/metrics")).text)
        last: list[Exposition] = []

        async def scraped() -> Exposition | None:
            async with httpx.AsyncClient(timeout=5) as plain:
                response = await plain.get(f"http://127.0.0.1:{metrics_port}/metrics")
            last[:] = [parse_exposition(response.text)]
            return last[0] if all(n in last[0].samples for n in WORKER_METRICS) else None

        try:
            worker_metrics = await poll(scraped, "the worker's metrics")
        except AssertionError as missing:
            raise AssertionError(f"{missing}: {sorted(last[0].names()) if last else []}") from None
    provider.force_flush()
    yield Scenario(
        request_id,
        list(exporter.get_finished_spans()),
        api_metrics,
        worker_metrics,
        seeded_template,
    )
