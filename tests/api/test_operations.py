"""The operational surface: health and readiness (also with Temporal down), request ids in
headers and JSON logs, Prometheus metrics by route template, problem+json errors, OpenAPI."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from tests.api.conftest import Stack, free_port, login, stack_env, start_purchase, start_stack

SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PROBLEM = "application/problem+json"
RFC_9457 = {"type", "title", "status", "detail", "instance"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def temporal_down(
    stack: Stack,  # seeds the demo users into the database shared with this API
    dev_env: WorkflowEnvironment,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """An API process of its own whose Temporal address is a port nothing listens on."""
    folder = tmp_path_factory.mktemp("temporal-down")
    closed = f"127.0.0.1:{free_port()}"
    env = stack_env(dev_env, database_url, folder, SIGNOFF_TEMPORAL_ADDRESS=closed)
    running = start_stack(env, folder, worker=False)
    yield running
    running.stop()


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with this status, about the path that was asked for."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body.keys() >= RFC_9457, body
    assert body["status"] == status
    assert body["instance"] == response.request.url.path
    assert body["type"].startswith("https://") and body["title"] and body["detail"]
    return body


def metric_samples(text: str) -> Samples:
    """Every sample of a Prometheus exposition by (name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much one sample grew (an absent one counts 0)."""
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def log_lines(log: Path, request_id: str) -> list[dict[str, Any]]:
    """The API log's entries of a request id, waiting a little for the line to be written."""
    for _ in range(50):
        entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        found = [e for e in entries if e.get("request_id") == request_id]
        if found:
            return found
        await asyncio.sleep(0.1)
    return []


# Health and readiness


async def test_liveness(http: httpx.AsyncClient) -> None:
    response = await http.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_checks_sql_temporal_and_the_object_store(http: httpx.AsyncClient) -> None:
    response = await http.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"sql": "ok", "temporal": "ok", "object_store": "ok"},
    }


async def test_readiness_names_temporal_when_it_is_down(temporal_down: Stack) -> None:
    async with httpx.AsyncClient(base_url=temporal_down.url, timeout=30) as client:
        live = await client.get("/health/live")
        assert live.status_code == 200
        ready = await client.get("/health/ready")
        assert ready.status_code == 503, ready.text
        body = ready.json()
        assert body["status"] == "not ready"
        assert body["checks"]["temporal"].startswith("down")
        assert body["checks"]["sql"] == "ok" and body["checks"]["object_store"] == "ok"


async def test_starting_a_request_with_temporal_down_fails_fast_and_clean(
    temporal_down: Stack,
) -> None:
    async with httpx.AsyncClient(base_url=temporal_down.url, timeout=30) as client:
        rita = await login(client, "rita@acme.test")  # SQL only: works without Temporal
        body = {"template_key": "purchase", "title": "Laptop", "amount": "2500", "currency": "EUR"}
        try:
            response = await asyncio.wait_for(
                client.post("/api/v1/requests", json=body, headers=rita), timeout=25
            )
        except (TimeoutError, httpx.TimeoutException):
            pytest.fail("POST /api/v1/requests hangs while Temporal is down")
        assert 500 <= response.status_code < 600, response.text
        assert_problem(response, response.status_code)
    async with httpx.AsyncClient(base_url=temporal_down.url, timeout=30) as client:
        # What SQL alone can answer still works.
        listed = await client.get("/api/v1/requests", headers=rita)
        assert listed.status_code == 200, listed.text


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """Status line with headers, and body, of one HTTP/1.1 response; empty if the server hung up."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        return head, await reader.readexactly(int(length.group(1)) if length else 0)
    except (asyncio.IncompleteReadError, ConnectionError):
        return b"", b""


async def test_a_5xx_with_temporal_down_leaves_the_connection_usable(
    temporal_down: Stack,
) -> None:
    async with httpx.AsyncClient(base_url=temporal_down.url, timeout=30) as client:
        rita = await login(client, "rita@acme.test")
    host, port = temporal_down.url.removeprefix("http://").split(":")
    body = json.dumps({"template_key": "purchase", "title": "Laptop"}).encode()
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            f"POST /api/v1/requests HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {rita['Authorization']}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head, _ = await asyncio.wait_for(_read_response(reader), timeout=25)
        assert head.startswith(b"HTTP/1.1 5"), head
        if re.search(rb"(?im)^connection:\s*close", head):
            return  # announced: the client knows to open a new connection
        writer.write(f"GET /health/live HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        again, _ = await asyncio.wait_for(_read_response(reader), timeout=10)
        assert again.startswith(b"HTTP/1.1 200"), "the server dropped the keep-alive connection"
    finally:
        writer.close()


# Request ids and logs


async def test_every_response_carries_a_request_id(http: httpx.AsyncClient) -> None:
    rita = await login(http, "rita@acme.test")
    responses = [
        await http.get("/health/live"),
        await http.get("/health/ready"),
        await http.get("/metrics"),
        await http.get("/openapi.json"),
        await http.get("/api/v1/me", headers=rita),
        await http.get("/api/v1/me"),
        await http.get("/api/v1/no-such-thing"),
        await http.delete("/api/v1/me", headers=rita),
        await http.post("/api/v1/requests", json={}, headers=rita),
    ]
    ids = [r.headers.get("x-request-id") for r in responses]
    for response, request_id in zip(responses, ids, strict=True):
        assert request_id and SAFE_ID.match(request_id), (response.request.url, request_id)
    assert len(set(ids)) == len(ids), "each response has an id of its own"


@pytest.mark.parametrize("given", ["abc-123", "trace.4f2a:span_9", "A" * 128, "0", "x.y:z_w-v"])
async def test_a_sane_incoming_request_id_is_echoed(http: httpx.AsyncClient, given: str) -> None:
    response = await http.get("/health/live", headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given


@pytest.mark.parametrize(
    "given",
    ["A" * 129, "has space", "semi;colon", "slash/ed", "<script>", 'quote"d', "tab\there", ""],
)
async def test_an_insane_incoming_request_id_is_replaced(
    http: httpx.AsyncClient, given: str
) -> None:
    response = await http.get("/health/live", headers={"X-Request-ID": given})
    replaced = response.headers["x-request-id"]
    assert replaced != given and SAFE_ID.match(replaced)


async def test_the_log_has_a_json_line_with_the_request_id(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    request_id = f"ops-{uuid.uuid4().hex}"
    path = f"/api/v1/no-such-thing-{uuid.uuid4().hex[:8]}"
    response = await http.get(path, headers={"X-Request-ID": request_id})
    assert response.status_code == 404
    entries = await log_lines(stack.api_log, request_id)
    assert any(path in e["message"] and "404" in e["message"] for e in entries), entries
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)

    insane = "not a sane id!"
    replaced = await http.get("/health/live", headers={"X-Request-ID": insane})
    logged = await log_lines(stack.api_log, replaced.headers["x-request-id"])
    assert any("/health/live" in e["message"] for e in logged), logged
    assert insane not in stack.api_log.read_text()


# Metrics

TOTAL = "signoff_http_requests_total"
APPROVE = "/api/v1/requests/{request_id}/approve"


async def metrics(http: httpx.AsyncClient) -> tuple[str, Samples]:
    """The exposition text and its samples."""
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text, metric_samples(response.text)


async def start_and_approve(http: httpx.AsyncClient) -> str:
    """Rita starts a purchase, Rita may not approve it (403), Alice does; its id."""
    rita = await login(http, "rita@acme.test")
    alice = await login(http, "alice@acme.test")
    started = await start_purchase(http, rita)
    request_id = str(started["request"]["request_id"])  # type: ignore[index]
    path = f"/api/v1/requests/{request_id}/approve"
    assert (await http.post(path, json={}, headers=rita)).status_code == 403
    approved = await http.post(path, json={"comment": "ok"}, headers=alice)
    assert approved.status_code == 200, approved.text
    return request_id


async def test_metrics_count_workflow_starts_and_decisions(http: httpx.AsyncClient) -> None:
    _, before = await metrics(http)
    await start_and_approve(http)
    _, after = await metrics(http)
    assert grew(before, after, "signoff_workflow_starts_total", template="purchase") == 1
    decisions = "signoff_decisions_total"
    assert grew(before, after, decisions, action="approve", outcome="applied") == 1
    assert grew(before, after, decisions, action="approve", outcome="refused") == 1


async def test_metrics_label_http_requests_by_route_template(http: httpx.AsyncClient) -> None:
    _, before = await metrics(http)
    await start_and_approve(http)
    _, after = await metrics(http)
    assert grew(before, after, TOTAL, method="POST", route="/api/v1/requests", status="201") == 1
    assert grew(before, after, TOTAL, method="POST", route=APPROVE, status="200") == 1
    assert grew(before, after, TOTAL, method="POST", route=APPROVE, status="403") == 1
    latency = "signoff_http_request_duration_seconds_count"
    assert grew(before, after, latency, method="POST", route=APPROVE) == 2
    assert grew(before, after, TOTAL, method="GET", route="/metrics", status="200") == 1


async def test_metrics_never_carry_a_raw_id_or_path(http: httpx.AsyncClient) -> None:
    request_id = await start_and_approve(http)
    stray = f"/api/v1/nothing-here-{uuid.uuid4().hex}"
    assert (await http.get(stray)).status_code == 404
    text, samples = await metrics(http)
    assert request_id not in text and stray not in text
    templates = set((await http.get("/openapi.json")).json()["paths"])
    templates |= {"unmatched", "/metrics", "/openapi.json", "/docs", "/files/{key:path}"}
    routes = {value for _, labels in samples for name, value in labels if name == "route"}
    assert routes and routes <= templates, routes - templates


# Errors


async def test_an_unknown_path_is_a_404_problem(http: httpx.AsyncClient) -> None:
    assert_problem(await http.get("/api/v1/no-such-thing"), 404)


async def test_a_wrong_method_is_a_405_problem(http: httpx.AsyncClient) -> None:
    response = await http.delete("/api/v1/me")
    assert_problem(response, 405)
    assert "GET" in response.headers.get("allow", "")


async def test_malformed_json_is_a_422_problem(http: httpx.AsyncClient) -> None:
    rita = await login(http, "rita@acme.test")
    response = await http.post(
        "/api/v1/requests",
        content=b'{"template_key": "purchase", "title": ',
        headers=rita | {"Content-Type": "application/json"},
    )
    assert_problem(response, 422)


async def test_missing_auth_is_a_401_problem(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/me")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert_problem(await http.get("/api/v1/me", headers={"Authorization": "Bearer nope"}), 401)


# OpenAPI and docs

ACTIONS = ["approve", "reject", "comments", "withdraw", "skip", "approvers", "reassign"]
CONTRACT = {
    "/api/v1/auth/token": {"post"},
    "/api/v1/auth/refresh": {"post"},
    "/api/v1/me": {"get"},
    "/api/v1/users": {"get", "post"},
    "/api/v1/users/{user_id}": {"patch"},
    "/api/v1/templates": {"get", "post"},
    "/api/v1/templates/{key}": {"get", "put", "delete"},
    "/api/v1/requests": {"get", "post"},
    "/api/v1/requests/{request_id}": {"get"},
    **{
        f"/api/v1/requests/{{request_id}}/{action}": {"post"}
        for action in [*ACTIONS, "pause", "resume"]
    },
    "/api/v1/requests/{request_id}/documents": {"post"},
    "/api/v1/requests/{request_id}/documents/{document_id}": {"get"},
}


async def test_openapi_describes_the_contract_so_far(http: httpx.AsyncClient) -> None:
    response = await http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = json.loads(response.text)
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] and document["info"]["version"]
    paths = document["paths"]
    for path, methods in CONTRACT.items():
        assert path in paths, path
        assert methods <= paths[path].keys(), (path, sorted(paths[path]))
        for method in methods:
            operation = paths[path][method]
            assert operation["responses"], (method, path)
            if not path.startswith("/api/v1/auth/"):
                assert operation.get("security"), f"{method.upper()} {path} names no security"
    assert "/health/live" in paths and "/health/ready" in paths


async def test_docs_answer(http: httpx.AsyncClient) -> None:
    response = await http.get("/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "/openapi.json" in response.text
