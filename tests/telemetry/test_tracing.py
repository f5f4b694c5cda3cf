"""One trace from the HTTP request through the workflow to its activities; nothing when off."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from sqlalchemy import Engine
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.testing import WorkflowEnvironment

from clients.temporal import connect_temporal
from config.settings import Settings
from telemetry.tracing import API_SERVICE, install_tracing, traces_url
from tests.telemetry.conftest import Scenario, trace_of
from workers.approval_worker import build_worker


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    matching = [s for s in spans if s.name == name]
    assert matching, f"no span {name} among {sorted({s.name for s in spans})}"
    return matching[0]


def _span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    span_id: int = span.context.span_id
    return span_id


def _ancestors(span: ReadableSpan, spans: list[ReadableSpan]) -> list[str]:
    """The names of a span's parents, nearest first."""
    by_id = {_span_id(s): s for s in spans}
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_one_trace_from_the_http_request_to_the_activities(scenario: Scenario) -> None:
    spans = trace_of(scenario.spans, scenario.request_id)
    assert spans is not None
    http = _one(spans, "POST /api/v1/requests")
    assert http.parent is None  # the caller sent no traceparent: the request is the root
    assert http.kind is SpanKind.SERVER
    assert (http.attributes or {})["http.response.status_code"] == 201
    assert (http.attributes or {})["http.route"] == "/api/v1/requests"
    start = _one(spans, "StartUpdateWithStartWorkflow:ApprovalWorkflow")
    # FastAPI's endpoint span sits between the request and the Temporal call.
    assert http.name in _ancestors(start, spans)
    run = _one(spans, "RunWorkflow:ApprovalWorkflow")
    assert _ancestors(run, spans)[0] == start.name
    ran = [s for s in spans if s.name.startswith("RunActivity:")]
    assert {s.name for s in ran} >= {
        "RunActivity:resolve_approvers",
        "RunActivity:record_request_progress",
    }
    for activity in ran:
        chain = _ancestors(activity, spans)
        assert chain[0] == "StartActivity:" + activity.name.removeprefix("RunActivity:")
        assert start.name in chain and chain[-1] == http.name
    assert {s.resource.attributes["service.name"] for s in spans} == {API_SERVICE}


async def test_a_decision_is_traced_into_the_workflow(scenario: Scenario) -> None:
    approve = _one(scenario.spans, "POST /api/v1/requests/{request_id}/approve")
    assert approve.context is not None
    in_trace = [
        s
        for s in scenario.spans
        if s.context is not None and s.context.trace_id == approve.context.trace_id
    ]
    update = _one(in_trace, "StartWorkflowUpdate:approve")
    assert approve.name in _ancestors(update, in_trace)
    # The workflow handles the update under its own (start) trace, linked to the caller's.
    handled = _one(scenario.spans, "HandleUpdate:approve")
    assert _span_id(update) in {link.context.span_id for link in handled.links}


async def test_a_worker_traces_once_whichever_client_it_has(
    dev_env: WorkflowEnvironment,
    test_settings: Settings,
    engine: Engine,
    activity_executor: ThreadPoolExecutor,
) -> None:
    on = test_settings.model_copy(
        update={
            "otel_exporter_otlp_endpoint": "http://collector:4318",
            "temporal_address": dev_env.client.service_client.config.target_host,
        }
    )
    traced_client = await connect_temporal(on)
    assert [type(i) for i in traced_client.config()["interceptors"]] == [TracingInterceptor]
    # A client without the interceptor (the tests' shared one): the worker adds its own.
    plain = build_worker(dev_env.client, on, engine, activity_executor, "tq-plain")
    assert [type(i) for i in plain.config()["interceptors"]] == [TracingInterceptor]
    # A client of connect_temporal brings it: a second would make every span twice.
    traced = build_worker(traced_client, on, engine, activity_executor, "tq-traced")
    assert traced.config()["interceptors"] == []


async def test_off_by_default_no_provider_and_no_interceptor(
    dev_env: WorkflowEnvironment,
    test_settings: Settings,
    engine: Engine,
    activity_executor: ThreadPoolExecutor,
) -> None:
    off = test_settings.model_copy(  # the tests' settings leave tracing at its default
        update={"temporal_address": dev_env.client.service_client.config.target_host}
    )
    assert off.otel_exporter_otlp_endpoint is None
    assert Settings.model_fields["otel_exporter_otlp_endpoint"].default is None
    before = trace.get_tracer_provider()
    assert install_tracing(off, API_SERVICE) is None
    assert trace.get_tracer_provider() is before
    client = await connect_temporal(off)
    assert client.config()["interceptors"] == []
    worker = build_worker(client, off, engine, activity_executor, "tq-off")
    assert worker.config()["interceptors"] == []


def test_a_pristine_process_keeps_the_no_op_provider(tmp_path: Path) -> None:
    """In a process of its own (this session may hold the traced one), off installs nothing.

    FastAPI's native request spans need a provider, so the API makes none either.
    """
    code = (
        "from opentelemetry import trace\n"
        "from opentelemetry.trace import ProxyTracerProvider\n"
        "from api.main import create_app\n"
        "from config.settings import Settings\n"
        "from telemetry.tracing import install_tracing\n"
        "settings = Settings()\n"
        "assert install_tracing(settings, 'signoff-api') is None\n"
        "create_app(settings)\n"
        "assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider)\n"
        "import sys; assert 'opentelemetry.sdk.trace' not in sys.modules, 'SDK imported'\n"
    )
    env = {"PATH": os.environ.get("PATH", "")}  # no SIGNOFF_* or OTEL_* variables
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://otel:4318", "http://otel:4318/v1/traces"),
        ("https://otel.example/", "https://otel.example/v1/traces"),
        ("http://otel:4318/v1/traces", "http://otel:4318/v1/traces"),
    ],
)
def test_the_traces_url_of_a_collector(endpoint: str, url: str) -> None:
    assert traces_url(endpoint) == url
