"""Templates through HTTP: who may write them, versions, soft delete and validation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api.conftest import as_user

TEMPLATES = "/api/v1/templates"


def new_key(prefix: str = "t") -> str:
    """A template key no other test uses (the database is shared by the session)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def level(name: str = "Lead", users: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """A level approved by named users unless `extra` says otherwise."""
    approvers: dict[str, Any] = {"users": users if users is not None else ["acme-alice"]}
    return {"name": name, "approvers": approvers, "tat": {"hours": 8}} | extra


def template(key: str, *levels: dict[str, Any], name: str = "Test template") -> dict[str, Any]:
    """A create body."""
    return {"key": key, "name": name, "levels": list(levels) or [level()]}


def problem(response: httpx.Response, status: int) -> str:
    """Assert a problem+json answer of this status; its detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    detail: str = body["detail"]
    assert detail
    return detail


async def create(http: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    """Create a template as acme's ADMIN; its JSON."""
    admin = await as_user(http, "admin@acme.test")
    response = await http.post(TEMPLATES, json=body, headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def start(
    http: httpx.AsyncClient, headers: dict[str, str], key: str, **extra: Any
) -> httpx.Response:
    """Start a request from a template."""
    body = {"template_key": key, "title": "From a test template"} | extra
    return await http.post("/api/v1/requests", json=body, headers=headers)


def approvers(request: dict[str, Any]) -> list[list[str]]:
    """Each level's approvers of a request's state."""
    return [lv["approvers"] for lv in request["levels"]]


async def test_only_admins_create_templates(http: httpx.AsyncClient) -> None:
    key = new_key()
    for email in ("rita@acme.test", "manager@acme.test", "alice@acme.test"):
        refused = await http.post(TEMPLATES, json=template(key), headers=await as_user(http, email))
        assert "ADMIN" in problem(refused, 403)
    problem(await http.post(TEMPLATES, json=template(key)), 401)
    rita = await as_user(http, "rita@acme.test")
    problem(await http.get(f"{TEMPLATES}/{key}", headers=rita), 404)

    created = await create(http, template(key, level(), name="Office chairs"))
    assert created["key"] == key and created["version"] == 1
    assert created["name"] == "Office chairs" and created["deleted"] is False
    assert created["created_by"] == "acme-admin" and created["created_at"]
    assert created["levels"][0]["approvers"] == {"users": ["acme-alice"], "role": None}
    assert created["levels"][0]["tat"] == {"hours": 8, "days": None}


async def test_list_get_latest_and_an_older_version(http: httpx.AsyncClient) -> None:
    admin = await as_user(http, "admin@acme.test")
    rita = await as_user(http, "rita@acme.test")
    key = new_key()
    await create(http, template(key, level("First"), name="v1"))

    two = {"name": "v2", "levels": [level("First"), level("Second", ["acme-bob"])]}
    refused = await http.put(f"{TEMPLATES}/{key}", json=two, headers=rita)
    problem(refused, 403)
    put = await http.put(f"{TEMPLATES}/{key}", json=two, headers=admin)
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 2 and put.json()["name"] == "v2"

    latest = await http.get(f"{TEMPLATES}/{key}", headers=rita)
    assert latest.status_code == 200
    assert latest.json()["version"] == 2 and latest.json()["key"] == key
    assert [lv["name"] for lv in latest.json()["levels"]] == ["First", "Second"]
    older = await http.get(f"{TEMPLATES}/{key}", params={"version": 1}, headers=rita)
    assert older.status_code == 200
    assert older.json()["version"] == 1 and older.json()["name"] == "v1"
    assert [lv["name"] for lv in older.json()["levels"]] == ["First"]
    assert "version 3" in problem(
        await http.get(f"{TEMPLATES}/{key}", params={"version": 3}, headers=rita), 404
    )
    problem(await http.get(f"{TEMPLATES}/{key}", params={"version": 0}, headers=rita), 422)

    listed = await http.get(TEMPLATES, headers=rita)
    assert listed.status_code == 200
    mine = [t for t in listed.json()["items"] if t["key"] == key]
    assert [(t["version"], t["name"]) for t in mine] == [(2, "v2")]
    assert {"purchase", "leave"} <= {t["key"] for t in listed.json()["items"]}

    problem(await http.put(f"{TEMPLATES}/{new_key()}", json=two, headers=admin), 404)


async def test_a_running_request_keeps_the_version_it_started_with(
    http: httpx.AsyncClient,
) -> None:
    admin = await as_user(http, "admin@acme.test")
    rita = await as_user(http, "rita@acme.test")
    alice = await as_user(http, "alice@acme.test")
    bob = await as_user(http, "bob@acme.test")
    key = new_key()
    await create(http, template(key, level("Lead", ["acme-alice"])))
    started = await start(http, rita, key)
    assert started.status_code == 201, started.text
    before = started.json()["request"]
    assert before["template_version"] == 1 and approvers(before) == [["acme-alice"]]

    v2 = {
        "name": "Stricter",
        "levels": [level("Finance", ["acme-bob"]), level("CFO", ["acme-carol"])],
    }
    put = await http.put(f"{TEMPLATES}/{key}", json=v2, headers=admin)
    assert put.status_code == 200 and put.json()["version"] == 2, put.text

    request_url = f"/api/v1/requests/{before['request_id']}"
    running = await http.get(request_url, headers=rita)
    assert running.status_code == 200
    after = running.json()["request"]
    assert after["template_version"] == 1
    assert after["levels"] == before["levels"]
    assert after["status"] == "IN_PROGRESS"

    fresh = await start(http, rita, key)
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["request"]["template_version"] == 2
    assert approvers(fresh.json()["request"]) == [["acme-bob"], ["acme-carol"]]
    pinned = await start(http, rita, key, template_version=1)
    assert pinned.status_code == 201, pinned.text
    assert pinned.json()["request"]["template_version"] == 1

    # The running request is decided by v1's approver, not v2's.
    problem(await http.post(f"{request_url}/approve", json={}, headers=bob), 403)
    approved = await http.post(f"{request_url}/approve", json={}, headers=alice)
    assert approved.status_code == 200, approved.text
    assert approved.json()["request"]["status"] == "APPROVED"


async def test_soft_delete(http: httpx.AsyncClient) -> None:
    admin = await as_user(http, "admin@acme.test")
    rita = await as_user(http, "rita@acme.test")
    alice = await as_user(http, "alice@acme.test")
    key = new_key()
    await create(http, template(key))
    running = await start(http, rita, key)
    assert running.status_code == 201, running.text

    problem(await http.delete(f"{TEMPLATES}/{key}", headers=rita), 403)
    problem(
        await http.delete(f"{TEMPLATES}/{key}", headers=await as_user(http, "manager@acme.test")),
        403,
    )
    deleted = await http.delete(f"{TEMPLATES}/{key}", headers=admin)
    assert deleted.status_code == 204 and deleted.content == b""

    problem(await http.get(f"{TEMPLATES}/{key}", headers=rita), 404)
    listed = await http.get(TEMPLATES, headers=rita)
    assert key not in {t["key"] for t in listed.json()["items"]}
    assert key in problem(await start(http, rita, key), 422)
    kept = await http.get(f"{TEMPLATES}/{key}", params={"version": 1}, headers=rita)
    assert kept.status_code == 200, kept.text
    assert kept.json()["version"] == 1 and kept.json()["deleted"] is True

    problem(await http.delete(f"{TEMPLATES}/{key}", headers=admin), 404)
    put = await http.put(
        f"{TEMPLATES}/{key}", json={"name": "x", "levels": [level()]}, headers=admin
    )
    problem(put, 404)

    # Running requests are unaffected.
    url = f"/api/v1/requests/{running.json()['request']['request_id']}"
    approved = await http.post(f"{url}/approve", json={}, headers=alice)
    assert approved.status_code == 200, approved.text
    assert approved.json()["request"]["status"] == "APPROVED"


async def test_a_deleted_template_starts_no_request_even_by_version(
    http: httpx.AsyncClient,
) -> None:
    admin = await as_user(http, "admin@acme.test")
    rita = await as_user(http, "rita@acme.test")
    key = new_key()
    await create(http, template(key))
    assert (await http.delete(f"{TEMPLATES}/{key}", headers=admin)).status_code == 204
    problem(await start(http, rita, key, template_version=1), 422)


def _without_levels(body: dict[str, Any]) -> None:
    body["levels"] = []


def _unknown_user(body: dict[str, Any]) -> None:
    body["levels"][0]["approvers"]["users"] = ["acme-alice", "acme-nobody-7f3a"]


def _other_orgs_user(body: dict[str, Any]) -> None:
    body["levels"][0]["approvers"]["users"] = ["globex-admin"]


def _unknown_escalation_target(body: dict[str, Any]) -> None:
    body["levels"][0]["escalation"] = {"action": "notify", "notify": ["acme-ghost-91c2"]}


def _unheld_role(body: dict[str, Any]) -> None:
    body["levels"][0]["approvers"] = {"role": "astronaut"}


def _no_approvers(body: dict[str, Any]) -> None:
    body["levels"][0]["approvers"] = {"users": []}


def _tat(**tat: int) -> Any:
    def mutate(body: dict[str, Any]) -> None:
        body["levels"][0]["tat"] = tat

    return mutate


def _key(value: str) -> Any:
    def mutate(body: dict[str, Any]) -> None:
        body["key"] = value

    return mutate


INVALID = [
    pytest.param(_without_levels, "levels", id="no-level"),
    pytest.param(_unknown_user, "acme-nobody-7f3a", id="unknown-approver"),
    pytest.param(_other_orgs_user, "globex-admin", id="approver-of-another-org"),
    pytest.param(_unknown_escalation_target, "acme-ghost-91c2", id="unknown-escalation-user"),
    pytest.param(_unheld_role, "astronaut", id="role-nobody-holds"),
    pytest.param(_no_approvers, "approvers", id="no-approvers"),
    pytest.param(_tat(hours=0), "tat", id="tat-0-hours"),
    pytest.param(_tat(hours=-1), "tat", id="tat-negative-hours"),
    pytest.param(_tat(days=0), "tat", id="tat-0-days"),
    pytest.param(_tat(), "tat", id="tat-empty"),
    pytest.param(_key("Bad Key"), "key", id="key-with-space"),
    pytest.param(_key("UPPER"), "key", id="key-upper-case"),
    pytest.param(_key("-dash-first"), "key", id="key-dash-first"),
    pytest.param(_key(""), "key", id="key-empty"),
    pytest.param(_key("k" * 101), "key", id="key-too-long"),
]


@pytest.mark.parametrize(("mutate", "words"), INVALID)
async def test_invalid_templates_are_refused(
    http: httpx.AsyncClient, mutate: Any, words: str
) -> None:
    admin = await as_user(http, "admin@acme.test")
    body = template(new_key())
    mutate(body)
    refused = await http.post(TEMPLATES, json=body, headers=admin)
    assert words in problem(refused, 422)
    if body["key"]:
        problem(await http.get(f"{TEMPLATES}/{body['key']}", headers=admin), 404)


async def test_an_invalid_new_version_is_refused_and_the_old_one_stays(
    http: httpx.AsyncClient,
) -> None:
    admin = await as_user(http, "admin@acme.test")
    key = new_key()
    await create(http, template(key))
    for bad in (
        {"name": "x", "levels": [level(users=["acme-nobody-2b"])]},
        {"name": "x", "levels": [level(approvers={"role": "astronaut"})]},
        {"name": "x", "levels": [level(tat={"hours": 0})]},
        {"name": "x", "levels": []},
    ):
        problem(await http.put(f"{TEMPLATES}/{key}", json=bad, headers=admin), 422)
    latest = await http.get(f"{TEMPLATES}/{key}", headers=admin)
    assert latest.json()["version"] == 1


async def test_an_existing_key_conflicts(http: httpx.AsyncClient) -> None:
    admin = await as_user(http, "admin@acme.test")
    key = new_key()
    await create(http, template(key, name="First"))
    again = await http.post(TEMPLATES, json=template(key, name="Second"), headers=admin)
    assert key in problem(again, 409)
    problem(await http.post(TEMPLATES, json=template("purchase"), headers=admin), 409)
    kept = await http.get(f"{TEMPLATES}/{key}", headers=admin)
    assert kept.json()["version"] == 1 and kept.json()["name"] == "First"

    # Keys belong to an org: another org may use the same one.
    globex = await as_user(http, "admin@globex.test")
    theirs = template(key, level(users=None, approvers={"role": "team-lead"}))
    created = await http.post(TEMPLATES, json=theirs, headers=globex)
    assert created.status_code == 201, created.text
    assert (await http.get(f"{TEMPLATES}/{key}", headers=admin)).json()["name"] == "First"
