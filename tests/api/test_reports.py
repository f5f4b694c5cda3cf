"""Request reports and the audit export over HTTP: what a manager downloads after real
decisions, overrides and a failed login, with filters, roles and org scoping."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from devstack.demo import DEMO_PASSWORD
from tests.api.conftest import as_user, start_purchase

AUDIT = "/api/v1/audit"
SLA = "/api/v1/reports/sla"
REQUESTS_CSV = "/api/v1/reports/requests.csv"


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


def _lines(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


async def _audit_until(
    http: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str], count: int
) -> list[dict[str, Any]]:
    """The audit entries once `count` of them are there (the read model is written async)."""
    for _ in range(150):
        entries = _lines(await http.get(AUDIT, params=params, headers=headers))
        if len(entries) >= count:
            return entries
        await asyncio.sleep(0.2)
    raise AssertionError(f"only {entries} for {params}")


async def _decided_requests(http: httpx.AsyncClient) -> dict[str, str]:
    """Three purchase requests: approved then skipped, rejected, and one still waiting."""
    rita = await as_user(http, "rita@acme.test")
    alice = await as_user(http, "alice@acme.test")
    manager = await as_user(http, "manager@acme.test")
    ids = {}
    for name in ("approved", "rejected", "waiting"):
        started = await start_purchase(http, rita)
        ids[name] = str(started["request"]["request_id"])  # type: ignore[index]
    base = "/api/v1/requests/{}/".format
    steps = [
        (base(ids["approved"]) + "approve", {"comment": "fine"}, alice, "198.51.100.7"),
        (base(ids["approved"]) + "skip", {"reason": "done by phone"}, manager, "198.51.100.8"),
        (base(ids["rejected"]) + "reject", {"reason": "too expensive"}, alice, "198.51.100.9"),
    ]
    for path, body, headers, address in steps:
        response = await http.post(path, json=body, headers=headers | _from(address))
        assert response.status_code == 200, response.text
    return ids


async def test_decisions_overrides_and_logins_in_the_audit_export(
    http: httpx.AsyncClient,
) -> None:
    start = datetime.now(UTC)  # what earlier tests made in the same second stays out
    ids = await _decided_requests(http)
    wrong = await http.post(
        "/api/v1/auth/token",
        json={"email": "rita@acme.test", "password": DEMO_PASSWORD + "-wrong"},
        headers=_from("198.51.100.10"),
    )
    assert wrong.status_code == 401
    admin = await as_user(http, "admin@acme.test")
    since = {"from": start.isoformat()}

    approved = await _audit_until(
        http, admin, since | {"kind": "approved", "request_id": ids["approved"]}, 1
    )
    assert [(e["actor"], e["ip"], e["reason"], e["source"]) for e in approved] == [
        ("acme-alice", "198.51.100.7", "fine", "request")
    ]
    assert approved[0]["subject"] == f"request:{ids['approved']}"
    skipped = await _audit_until(http, admin, since | {"kind": "level_skipped"}, 1)
    assert [(e["actor"], e["ip"], e["reason"], e["request_id"]) for e in skipped] == [
        ("acme-manager", "198.51.100.8", "done by phone", ids["approved"])
    ]
    rejected = await _audit_until(http, admin, since | {"kind": "rejected"}, 1)
    assert [(e["actor"], e["ip"], e["reason"]) for e in rejected] == [
        ("acme-alice", "198.51.100.9", "too expensive")
    ]
    failed = await _audit_until(http, admin, since | {"kind": "login_failed"}, 1)
    assert [(e["source"], e["actor"], e["ip"]) for e in failed] == [
        ("security", "acme-rita", "198.51.100.10")
    ]

    # Both trails in one stream, oldest first; filters narrow it.
    everything = _lines(await http.get(AUDIT, params=since, headers=admin))
    assert {"request", "security"} <= {e["source"] for e in everything}
    assert [e["at"] for e in everything] == sorted(e["at"] for e in everything)
    by_manager = _lines(
        await http.get(AUDIT, params=since | {"actor": "acme-manager"}, headers=admin)
    )
    assert by_manager and {e["actor"] for e in by_manager} == {"acme-manager"}
    one_request = _lines(
        await http.get(AUDIT, params={"request_id": ids["rejected"]}, headers=admin)
    )
    assert {e["request_id"] for e in one_request} == {ids["rejected"]}
    assert {"created", "rejected", "completed"} <= {e["kind"] for e in one_request}
    before = _lines(await http.get(AUDIT, params={"to": start.isoformat()}, headers=admin))
    assert not {e["request_id"] for e in before} & set(ids.values())

    # CSV: the same entries, parsed by the csv module, detail as JSON text.
    as_csv = await http.get(AUDIT, params=since | {"format": "csv"}, headers=admin)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == len(everything)
    skip_row = next(r for r in rows if r["kind"] == "level_skipped")
    assert skip_row["ip"] == "198.51.100.8" and skip_row["reason"] == "done by phone"
    assert json.loads(skip_row["detail"])["ip"] == "198.51.100.8"


async def test_the_audit_export_is_for_managers_of_the_org(http: httpx.AsyncClient) -> None:
    rita = await as_user(http, "rita@acme.test")
    assert (await http.get(AUDIT, headers=rita)).status_code == 403
    manager = await as_user(http, "manager@acme.test")
    assert (await http.get(AUDIT, params={"kind": "approved"}, headers=manager)).is_success
    unknown = await http.get(AUDIT, params={"kind": "launched"}, headers=manager)
    assert unknown.status_code == 422 and "unknown kind launched" in unknown.json()["detail"]
    naive = await http.get(AUDIT, params={"from": "2026-01-01T00:00:00"}, headers=manager)
    assert naive.status_code == 422
    globex = await as_user(http, "admin@globex.test")
    theirs = _lines(await http.get(AUDIT, headers=globex))
    assert all(e["actor"] not in ("acme-alice", "acme-manager") for e in theirs)


async def test_request_and_sla_reports(http: httpx.AsyncClient) -> None:
    start = datetime.now(UTC)  # what earlier tests made in the same second stays out
    ids = await _decided_requests(http)
    manager = await as_user(http, "manager@acme.test")
    since = {"from": start.isoformat()}
    await _audit_until(http, manager, since | {"kind": "rejected"}, 1)
    await _audit_until(http, manager, since | {"kind": "level_skipped"}, 1)

    report = await http.get(SLA, params=since, headers=manager)
    assert report.status_code == 200, report.text
    rows = {(r["template_key"], r["level_id"]): r for r in report.json()["rows"]}
    assert set(rows) == {("purchase", "L1"), ("purchase", "L2")}
    lead, finance = rows["purchase", "L1"], rows["purchase", "L2"]
    assert (lead["level_name"], lead["requests"], lead["decided"], lead["backlog"]) == (
        "Team lead",
        3,
        2,
        1,
    )
    assert lead["median_business_hours"] is not None and lead["median_business_hours"] >= 0
    assert lead["p90_business_hours"] >= lead["median_business_hours"]
    assert (lead["breached_share"], lead["escalations"]) == (0.0, 0)
    # Finance was skipped on one, never reached on the others: nothing decided there.
    assert (finance["requests"], finance["decided"], finance["backlog"]) == (3, 0, 0)
    assert finance["median_business_hours"] is None

    as_csv = await http.get(SLA, params=since | {"format": "csv"}, headers=manager)
    assert as_csv.headers["content-type"].startswith("text/csv")
    csv_rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["level_id"], r["requests"], r["backlog"]) for r in csv_rows] == [
        ("L1", "3", "1"),
        ("L2", "3", "0"),
    ]
    assert (await http.get(SLA)).status_code == 401

    export = await http.get(
        REQUESTS_CSV, params={"created_from": start.isoformat()}, headers=manager
    )
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(export.text)))
    assert {r["id"]: r["status"] for r in lines} == {
        ids["approved"]: "APPROVED",
        ids["rejected"]: "REJECTED",
        ids["waiting"]: "IN_PROGRESS",
    }
    assert {r["template_key"] for r in lines} == {"purchase"}
    waiting = await http.get(
        REQUESTS_CSV,
        params={"created_from": start.isoformat(), "status": "IN_PROGRESS", "template": "purchase"},
        headers=manager,
    )
    assert [r["id"] for r in csv.DictReader(io.StringIO(waiting.text))] == [ids["waiting"]]

    rita = await as_user(http, "rita@acme.test")
    for path in (SLA, REQUESTS_CSV):
        assert (await http.get(path, headers=rita)).status_code == 403
    globex = await as_user(http, "admin@globex.test")
    theirs = await http.get(
        REQUESTS_CSV, params={"created_from": start.isoformat()}, headers=globex
    )
    assert list(csv.DictReader(io.StringIO(theirs.text))) == []
    backwards = await http.get(
        SLA, params={"from": start.isoformat(), "to": "2000-01-01T00:00:00Z"}, headers=manager
    )
    assert backwards.status_code == 422
