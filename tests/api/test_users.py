"""Users through HTTP: ADMIN manages the org's users and roles; nobody else may."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from store.security_events import SecurityEvent
from store.tables import User
from tests.api.conftest import as_user, login

USERS = "/api/v1/users"
PASSWORD = "correct-horse-battery"


def new_email(prefix: str = "user") -> str:
    """An e-mail no other test uses (the database is shared by the session)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}@acme.test"


def problem(response: httpx.Response, status: int) -> str:
    """Assert a problem+json answer of this status; its detail."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    detail: str = response.json()["detail"]
    assert detail
    return detail


def no_secrets(user: dict[str, Any], response: httpx.Response) -> None:
    """Neither the password nor its hash is ever shown."""
    assert not [k for k in user if "password" in k or "hash" in k], user
    assert PASSWORD not in response.text and "$argon2" not in response.text


async def create(
    http: httpx.AsyncClient, roles: list[str] | None = None, password: str | None = PASSWORD
) -> dict[str, Any]:
    """A new acme user, created by acme's ADMIN; its JSON."""
    admin = await as_user(http, "admin@acme.test")
    body: dict[str, Any] = {"email": new_email(), "name": "New Person"}
    if roles is not None:
        body["roles"] = roles
    if password is not None:
        body["password"] = password
    response = await http.post(USERS, json=body, headers=admin)
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


async def can_log_in(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> int:
    """The status of a login attempt."""
    response = await http.post("/api/v1/auth/token", json={"email": email, "password": password})
    return response.status_code


async def all_users(http: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every user the caller may list, page by page."""
    users: list[dict[str, Any]] = []
    while True:
        page = await http.get(USERS, params={"limit": 200, "offset": len(users)}, headers=headers)
        assert page.status_code == 200, page.text
        users += page.json()["items"]
        if not page.json()["items"] or len(users) >= page.json()["total"]:
            return users


async def test_admin_creates_a_user_who_can_log_in(http: httpx.AsyncClient) -> None:
    admin = await as_user(http, "admin@acme.test")
    email = new_email("New.Person")
    body = {"email": email.upper(), "name": "Nina New", "roles": ["USER", "auditor"]}
    response = await http.post(USERS, json=body | {"password": PASSWORD}, headers=admin)
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["id"] and user["org_id"] == "acme" and user["created_at"]
    assert user["email"] == email.lower() and user["name"] == "Nina New"
    assert user["roles"] == ["USER", "auditor"] and user["active"] is True
    no_secrets(user, response)

    headers = await login(http, email, PASSWORD)
    me = await http.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["id"] == user["id"] and me.json()["org_id"] == "acme"
    assert me.json()["roles"] == ["USER", "auditor"]

    listed = [u for u in await all_users(http, admin) if u["id"] == user["id"]]
    assert listed == [user]


async def test_a_user_without_password_cannot_log_in(http: httpx.AsyncClient) -> None:
    user = await create(http, password=None)
    assert user["roles"] == ["USER"]
    assert await can_log_in(http, user["email"], "") == 422
    assert await can_log_in(http, user["email"], PASSWORD) == 401


async def test_a_duplicate_email_conflicts(http: httpx.AsyncClient, engine: Engine) -> None:
    admin = await as_user(http, "admin@acme.test")
    user = await create(http)
    for email in (user["email"], user["email"].upper(), "rita@acme.test"):
        again = await http.post(USERS, json={"email": email, "name": "Twin"}, headers=admin)
        assert email.lower() in problem(again, 409).lower()
    with Session(engine) as session:
        count = session.exec(select(func.count()).where(col(User.email) == user["email"])).one()
    assert count == 1


INVALID_CREATES = [
    pytest.param({"roles": ["SUPERUSER"]}, "SUPERUSER", id="unknown-upper-case-role"),
    pytest.param({"roles": ["Finance"]}, "Finance", id="mixed-case-role"),
    pytest.param({"roles": ["USER", "has space"]}, "has space", id="role-with-space"),
    pytest.param({"roles": [""]}, "roles", id="empty-role"),
    pytest.param({"roles": []}, "roles", id="no-role"),
    pytest.param({"password": "short-pw-11"}, "password", id="short-password"),
    pytest.param({"email": "not-an-email"}, "e-mail", id="bad-email"),
    pytest.param({"name": ""}, "name", id="empty-name"),
]


@pytest.mark.parametrize(("change", "words"), INVALID_CREATES)
async def test_invalid_users_are_refused(
    http: httpx.AsyncClient, change: dict[str, Any], words: str
) -> None:
    admin = await as_user(http, "admin@acme.test")
    body = {"email": new_email(), "name": "Bad", "password": PASSWORD} | change
    assert words in problem(await http.post(USERS, json=body, headers=admin), 422)
    emails = {u["email"] for u in await all_users(http, admin)}
    assert body["email"] not in emails


async def test_the_list_is_paginated_and_only_the_callers_org(
    http: httpx.AsyncClient, engine: Engine
) -> None:
    admin = await as_user(http, "admin@acme.test")
    for _ in range(3):
        await create(http)
    everyone = await all_users(http, admin)
    with Session(engine) as session:
        ids = set(session.exec(select(User.id).where(col(User.org_id) == "acme")))
    assert {u["id"] for u in everyone} == ids
    assert {u["org_id"] for u in everyone} == {"acme"}
    emails = [u["email"] for u in everyone]
    assert emails == sorted(emails)

    first = await http.get(USERS, params={"limit": 2}, headers=admin)
    second = await http.get(USERS, params={"limit": 2, "offset": 2}, headers=admin)
    for page, offset in ((first, 0), (second, 2)):
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["total"] == len(ids) and body["limit"] == 2 and body["offset"] == offset
        assert body["items"] == everyone[offset : offset + 2]
    beyond = await http.get(USERS, params={"offset": len(ids)}, headers=admin)
    assert beyond.json()["items"] == [] and beyond.json()["total"] == len(ids)
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "many"}):
        problem(await http.get(USERS, params=params, headers=admin), 422)


async def test_patch_roles_name_and_active(http: httpx.AsyncClient) -> None:
    admin = await as_user(http, "admin@acme.test")
    user = await create(http)
    url = f"{USERS}/{user['id']}"
    token = await login(http, user["email"], PASSWORD)

    roles = await http.patch(url, json={"roles": ["USER", "cfo"]}, headers=admin)
    assert roles.status_code == 200, roles.text
    assert roles.json()["roles"] == ["USER", "cfo"] and roles.json()["name"] == "New Person"
    named = await http.patch(url, json={"name": "Renamed Person"}, headers=admin)
    assert named.status_code == 200
    assert named.json()["name"] == "Renamed Person" and named.json()["roles"] == ["USER", "cfo"]
    no_secrets(named.json(), named)
    me = await http.get("/api/v1/me", headers=await login(http, user["email"], PASSWORD))
    assert me.json()["roles"] == ["USER", "cfo"] and me.json()["name"] == "Renamed Person"

    off = await http.patch(url, json={"active": False}, headers=admin)
    assert off.status_code == 200 and off.json()["active"] is False
    assert await can_log_in(http, user["email"]) == 401
    problem(await http.get("/api/v1/me", headers=token), 401)
    on = await http.patch(url, json={"active": True}, headers=admin)
    assert on.status_code == 200 and on.json()["active"] is True
    assert await can_log_in(http, user["email"]) == 200

    new_password = "a-brand-new-passphrase"
    changed = await http.patch(url, json={"password": new_password}, headers=admin)
    assert changed.status_code == 200
    assert new_password not in changed.text
    assert await can_log_in(http, user["email"]) == 401
    assert await can_log_in(http, user["email"], new_password) == 200

    invalid: list[dict[str, Any]] = [
        {"roles": []},
        {"roles": ["Boss"]},
        {"password": "short"},
        {"name": ""},
    ]
    for bad in invalid:
        problem(await http.patch(url, json=bad, headers=admin), 422)
    problem(
        await http.patch(f"{USERS}/usr-missing-{uuid.uuid4().hex[:8]}", json={}, headers=admin), 404
    )


async def test_an_admin_cannot_demote_or_deactivate_themselves(http: httpx.AsyncClient) -> None:
    boss = await create(http, roles=["ADMIN"])
    headers = await login(http, boss["email"], PASSWORD)
    url = f"{USERS}/{boss['id']}"
    for change in (
        {"roles": ["USER"]},
        {"roles": ["MANAGEMENT", "USER"]},
        {"active": False},
        {"name": "Ex Boss", "roles": ["USER"]},
    ):
        refused = await http.patch(url, json=change, headers=headers)
        assert problem(refused, 409)
    me = await http.get("/api/v1/me", headers=headers)
    assert me.json()["roles"] == ["ADMIN"] and me.json()["name"] == "New Person"
    assert await can_log_in(http, boss["email"]) == 200

    kept = await http.patch(url, json={"roles": ["ADMIN", "auditor"]}, headers=headers)
    assert kept.status_code == 200 and kept.json()["roles"] == ["ADMIN", "auditor"]

    # Another admin may do what they may not do to themselves.
    admin = await as_user(http, "admin@acme.test")
    demoted = await http.patch(url, json={"roles": ["USER"], "active": False}, headers=admin)
    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["roles"] == ["USER"] and demoted.json()["active"] is False


@pytest.mark.parametrize("email", ["rita@acme.test", "alice@acme.test", "manager@acme.test"])
async def test_non_admins_may_not_touch_users(http: httpx.AsyncClient, email: str) -> None:
    headers = await as_user(http, email)
    me = (await http.get("/api/v1/me", headers=headers)).json()
    wanted = new_email("sneaky")
    body = {"email": wanted, "name": "Sneaky", "password": PASSWORD, "roles": ["ADMIN"]}
    assert "ADMIN" in problem(await http.post(USERS, json=body, headers=headers), 403)
    problem(await http.get(USERS, headers=headers), 403)
    for target in ("acme-bob", me["id"]):
        promote = {"roles": ["ADMIN"], "active": True}
        problem(await http.patch(f"{USERS}/{target}", json=promote, headers=headers), 403)

    admin = await as_user(http, "admin@acme.test")
    users = {u["id"]: u for u in await all_users(http, admin)}
    assert wanted not in {u["email"] for u in users.values()}
    assert users["acme-bob"]["roles"] == ["USER", "finance"]
    assert users[me["id"]]["roles"] == me["roles"]


async def test_users_routes_need_a_token(http: httpx.AsyncClient) -> None:
    body = {"email": new_email(), "name": "Anon", "password": PASSWORD}
    problem(await http.post(USERS, json=body), 401)
    problem(await http.get(USERS), 401)
    problem(await http.patch(f"{USERS}/acme-rita", json={"roles": ["ADMIN"]}), 401)


async def test_user_changes_are_security_events(http: httpx.AsyncClient, engine: Engine) -> None:
    admin = await as_user(http, "admin@acme.test")
    body = {"email": new_email(), "name": "Audited", "roles": ["USER"], "reason": "new hire"}
    created = await http.post(USERS, json=body, headers=admin)
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    change = {"roles": ["USER", "MANAGEMENT"], "reason": "promoted, ticket 9"}
    promoted = await http.patch(f"{USERS}/{user_id}", json=change, headers=admin)
    assert promoted.status_code == 200, promoted.text
    same = await http.patch(f"{USERS}/{user_id}", json={"roles": change["roles"]}, headers=admin)
    assert same.status_code == 200, same.text  # no change, no event
    gone = {"active": False, "password": PASSWORD, "reason": "left"}
    assert (await http.patch(f"{USERS}/{user_id}", json=gone, headers=admin)).status_code == 200
    refused = await http.patch(f"{USERS}/acme-admin", json={"active": False}, headers=admin)
    assert refused.status_code == 409  # refused changes leave no event

    with Session(engine) as session:
        rows = session.exec(
            select(SecurityEvent)
            .where(col(SecurityEvent.subject) == f"user:{user_id}")
            .order_by(col(SecurityEvent.id))
        ).all()
        self_deactivated = session.exec(
            select(SecurityEvent).where(
                col(SecurityEvent.subject) == "user:acme-admin",
                col(SecurityEvent.kind) == "user_deactivated",
            )
        ).all()
    assert not self_deactivated
    audited = list(rows)
    assert [r.kind for r in audited] == [
        "user_created",
        "role_changed",
        "user_deactivated",
        "secret_changed",
    ]
    for row in audited:
        assert row.actor == "acme-admin" and row.org_id == "acme" and row.ip == "127.0.0.1"
        assert row.subject == f"user:{user_id}"
    assert [r.reason for r in audited] == ["new hire", "promoted, ticket 9", "left", "left"]
    assert audited[1].detail == {"from": ["USER"], "to": ["USER", "MANAGEMENT"]}
    assert audited[3].detail == {"what": "password"}
    assert PASSWORD not in str([r.detail for r in rows])
