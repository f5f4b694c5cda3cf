"""A request's whole life through HTTP: start, decide, refuse, override, read, list."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.api.conftest import login, start_purchase


def _level(detail: dict[str, Any]) -> tuple[str | None, list[str]]:
    request = detail["request"]
    index = request["current_level"]
    if index is None:
        return None, []
    level = request["levels"][index]
    return level["name"], [a for a in level["approvers"]]


async def test_a_request_from_start_to_rejection(http: httpx.AsyncClient) -> None:
    rita = await login(http, "rita@acme.test")
    alice = await login(http, "alice@acme.test")
    bob = await login(http, "bob@acme.test")
    started = await start_purchase(http, rita)
    request_id = started["request"]["request_id"]  # type: ignore[index]
    assert _level(started) == ("Team lead", ["acme-alice"])

    wrong = await http.post(f"/api/v1/requests/{request_id}/approve", json={}, headers=rita)
    assert wrong.status_code == 403
    assert wrong.headers["content-type"] == "application/problem+json"
    assert "acme-rita is not an approver of level L1" in wrong.json()["detail"]

    approved = await http.post(
        f"/api/v1/requests/{request_id}/approve", json={"comment": "ok"}, headers=alice
    )
    assert approved.status_code == 200, approved.text
    assert _level(approved.json()) == ("Finance", ["acme-bob", "acme-carol"])
    again = await http.post(f"/api/v1/requests/{request_id}/approve", json={}, headers=alice)
    assert again.status_code == 403  # alice is not an approver of level 2

    stale = await http.post(
        f"/api/v1/requests/{request_id}/approve", json={"level_id": "L1"}, headers=bob
    )
    assert stale.status_code == 409 and "no longer current" in stale.json()["detail"]

    no_reason = await http.post(f"/api/v1/requests/{request_id}/reject", json={}, headers=bob)
    assert no_reason.status_code == 422
    rejected = await http.post(
        f"/api/v1/requests/{request_id}/reject", json={"reason": "over budget"}, headers=bob
    )
    assert rejected.status_code == 200
    assert rejected.json()["request"]["status"] == "REJECTED"

    late = await http.post(f"/api/v1/requests/{request_id}/approve", json={}, headers=bob)
    assert late.status_code == 409
    assert "REJECTED" in late.json()["detail"]

    detail = await http.get(f"/api/v1/requests/{request_id}", headers=rita)
    assert detail.status_code == 200
    kinds = [e["kind"] for e in detail.json()["request"]["audit"]]
    assert kinds[-3:] == ["level_started", "rejected", "completed"]

    listed = await http.get("/api/v1/requests", params={"mine": "true"}, headers=rita)
    row = next(r for r in listed.json()["items"] if r["id"] == request_id)
    assert row["status"] == "REJECTED"


async def test_overrides_by_management_and_their_refusal_for_users(
    http: httpx.AsyncClient,
) -> None:
    rita = await login(http, "rita@acme.test")
    alice = await login(http, "alice@acme.test")
    manager = await login(http, "manager@acme.test")
    started = await start_purchase(http, rita, amount="20000")
    request_id = started["request"]["request_id"]  # type: ignore[index]
    base = f"/api/v1/requests/{request_id}"

    for path, body in [
        ("skip", {"reason": "urgent"}),
        ("pause", {"reason": "waiting"}),
        ("approvers", {"reason": "legal", "position": 1, "approvers": ["acme-admin"]}),
    ]:
        refused = await http.post(f"{base}/{path}", json=body, headers=alice)
        assert refused.status_code == 403, (path, refused.text)

    paused = await http.post(f"{base}/pause", json={"reason": "quote"}, headers=manager)
    assert paused.status_code == 200 and paused.json()["request"]["sla_state"] == "PAUSED"
    twice = await http.post(f"{base}/pause", json={"reason": "again"}, headers=manager)
    assert twice.status_code == 409
    resumed = await http.post(f"{base}/resume", json={"reason": "quote in"}, headers=manager)
    assert resumed.status_code == 200

    unknown = await http.post(
        f"{base}/approvers",
        json={"reason": "legal", "position": 1, "approvers": ["nobody"]},
        headers=manager,
    )
    assert unknown.status_code == 422
    mismatched = await http.post(
        f"{base}/approvers",
        json={
            "reason": "legal",
            "position": 1,
            "approvers": ["acme-admin"],
            "required_approvals": 1,
        },
        headers=manager,
    )  # a count without mode n_of: refused here, never a workflow task that cannot run
    assert mismatched.status_code == 422 and "n_of" in mismatched.text, mismatched.text
    for body in (
        {"reason": "legal", "position": 1, "approvers": ["acme-\x00admin"]},
        {"reason": "x", "from_user": "acme-alice", "to_user": "acme-\x00bob"},
    ):  # a NUL in a user id is refused with the field, never reaching SQL as a 500
        path = "approvers" if "approvers" in body else "reassign"
        nul = await http.post(f"{base}/{path}", json=body, headers=manager)
        assert nul.status_code == 422 and "NUL" in nul.text, nul.text
    inserted = await http.post(
        f"{base}/approvers",
        json={"reason": "legal", "position": 1, "approvers": ["acme-admin"], "name": "Legal"},
        headers=manager,
    )
    assert inserted.status_code == 200
    names = [lv["name"] for lv in inserted.json()["request"]["levels"]]
    assert names == ["Team lead", "Legal", "Finance", "CFO"]

    # Delegation: the approver hands their own approval on; not someone else's.
    not_theirs = await http.post(
        f"{base}/reassign",
        json={"reason": "x", "from_user": "acme-bob", "to_user": "acme-carol"},
        headers=alice,
    )
    assert not_theirs.status_code == 403
    delegated = await http.post(
        f"{base}/reassign",
        json={"reason": "holiday", "from_user": "acme-alice", "to_user": "acme-manager"},
        headers=alice,
    )
    assert delegated.status_code == 200
    assert _level(delegated.json()) == ("Team lead", ["acme-manager"])

    skipped = await http.post(f"{base}/skip", json={"reason": "done by phone"}, headers=manager)
    assert skipped.status_code == 200 and _level(skipped.json())[0] == "Legal"

    comment = await http.post(f"{base}/comments", json={"text": "thanks"}, headers=rita)
    assert comment.status_code == 200
    withdrawn = await http.post(f"{base}/withdraw", json={"reason": "not needed"}, headers=rita)
    assert withdrawn.status_code == 200
    assert withdrawn.json()["request"]["status"] == "WITHDRAWN"


async def test_idempotency_key_returns_the_same_request(http: httpx.AsyncClient) -> None:
    rita = await login(http, "rita@acme.test")
    body = {"template_key": "leave", "title": "Friday off"}
    headers = rita | {"Idempotency-Key": "leave-2026-11-27"}
    first = await http.post("/api/v1/requests", json=body, headers=headers)
    second = await http.post("/api/v1/requests", json=body, headers=headers)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["request"]["request_id"] == second.json()["request"]["request_id"]
    different = await http.post(
        "/api/v1/requests", json=body | {"title": "Monday off"}, headers=headers
    )
    assert different.status_code == 422
    assert "different request body" in different.json()["detail"]


async def test_bad_starts_are_refused_clearly(http: httpx.AsyncClient) -> None:
    rita = await login(http, "rita@acme.test")
    cases = [
        ({"template_key": "nope", "title": "x"}, 422, "template 'nope'"),
        ({"template_key": "purchase", "title": "x", "priority": "ASAP"}, 422, "unknown priority"),
        ({"template_key": "purchase", "title": ""}, 422, "title"),
        ({"template_key": "purchase", "title": "x", "amount": "-5"}, 422, "amount"),
        ({"template_key": "purchase", "title": "x", "currency": "euro"}, 422, "currency"),
    ]
    for body, status, words in cases:
        response = await http.post("/api/v1/requests", json=body, headers=rita)
        assert response.status_code == status, (body, response.text)
        assert words in response.json()["detail"], (body, response.text)
    garbage = await http.post(
        "/api/v1/requests",
        content=b"{not json",
        headers=rita | {"content-type": "application/json"},
    )
    assert garbage.status_code == 422
    assert garbage.headers["content-type"] == "application/problem+json"


async def test_lists_filter_and_page(http: httpx.AsyncClient) -> None:
    rita = await login(http, "rita@acme.test")
    alice = await login(http, "alice@acme.test")
    ids = [
        (await start_purchase(http, rita, title=f"Chair {n}"))["request"]["request_id"]  # type: ignore[index]
        for n in range(3)
    ]
    mine = await http.get("/api/v1/requests", params={"mine": "true", "limit": 2}, headers=rita)
    page = mine.json()
    assert len(page["items"]) == 2 and page["total"] >= 3
    assert [r["id"] for r in page["items"]] == ids[::-1][:2]
    assigned = await http.get("/api/v1/requests", params={"assigned_to_me": "true"}, headers=alice)
    assert set(ids) <= {r["id"] for r in assigned.json()["items"]}
    nobody = await http.get("/api/v1/requests", params={"assigned_to_me": "true"}, headers=rita)
    assert not set(ids) & {r["id"] for r in nobody.json()["items"]}
    bad = await http.get("/api/v1/requests", params={"limit": 0}, headers=rita)
    assert bad.status_code == 422


def _ips(detail: dict[str, Any]) -> list[object]:
    """The `detail.ip` of every audit entry that has one."""
    return [e["detail"]["ip"] for e in detail["request"]["audit"] if "ip" in e["detail"]]


async def test_decision_ips_are_shown_to_auditors_only(http: httpx.AsyncClient) -> None:
    rita = await login(http, "rita@acme.test")
    alice = await login(http, "alice@acme.test")
    body = {"template_key": "purchase", "title": "Desk", "amount": "2500", "currency": "EUR"}
    headers = rita | {"Idempotency-Key": f"desk-{uuid.uuid4().hex}"}
    started = await http.post("/api/v1/requests", json=body, headers=headers)
    assert started.status_code == 201, started.text
    request_id = started.json()["request"]["request_id"]
    approved = await http.post(
        f"/api/v1/requests/{request_id}/approve", json={"comment": "ok"}, headers=alice
    )
    assert approved.status_code == 200, approved.text
    url = f"/api/v1/requests/{request_id}"

    for auditor in ("admin@acme.test", "manager@acme.test"):
        seen = await http.get(url, headers=await login(http, auditor))
        assert seen.status_code == 200, seen.text
        by_alice = [e for e in seen.json()["request"]["audit"] if e["actor"] == "acme-alice"]
        assert by_alice and all(e["detail"].get("ip") for e in by_alice), by_alice

    for participant in (rita, alice):
        seen = await http.get(url, headers=participant)
        assert seen.status_code == 200, seen.text
        assert any(e["kind"] == "approved" for e in seen.json()["request"]["audit"])
        assert _ips(seen.json()) == []
    # Replaying the start answers with the trail so far, alice's approval too: no IPs either.
    replayed = await http.post("/api/v1/requests", json=body, headers=headers)
    assert replayed.status_code == 200, replayed.text
    assert any(e["kind"] == "approved" for e in replayed.json()["request"]["audit"])
    assert _ips(replayed.json()) == []
