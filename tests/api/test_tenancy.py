"""Tenant isolation: another org's id answers 404 exactly like a missing one, on every route.

The matrix is checked against the app's own routes, so a new route that takes an id in its
path fails here until it has a tenancy case.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import fastapi.routing
import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.main import API_PREFIX, create_app
from config.settings import Settings
from store.tables import RequestRecord, Template, User
from tests.api.conftest import Stack, login, start_purchase
from tests.api.tenancy_ap import AP_CASES, ap_missing_ids, ap_view, make_ap_objects

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
REQUEST = f"{API_PREFIX}/requests/{{request_id}}"


@dataclass(frozen=True)
class Case:
    """How to call one route: a valid body, so that only the id can make it fail."""

    json: dict[str, Any] | None = None
    upload: bool = False
    params: dict[str, str] = field(default_factory=dict)


HIJACK_TEMPLATE = {
    "name": "hijacked",
    "levels": [{"name": "x", "approvers": {"users": ["globex-admin"]}, "tat": {"hours": 1}}],
}

MATRIX: dict[tuple[str, str], Case] = {
    ("GET", REQUEST): Case(),
    ("POST", f"{REQUEST}/approve"): Case(json={"comment": "from globex"}),
    ("POST", f"{REQUEST}/reject"): Case(json={"reason": "from globex"}),
    ("POST", f"{REQUEST}/comments"): Case(json={"text": "from globex"}),
    ("POST", f"{REQUEST}/withdraw"): Case(json={"reason": "from globex"}),
    ("POST", f"{REQUEST}/skip"): Case(json={"reason": "from globex"}),
    ("POST", f"{REQUEST}/approvers"): Case(
        json={"reason": "from globex", "position": 0, "approvers": ["globex-admin"]}
    ),
    ("POST", f"{REQUEST}/reassign"): Case(
        json={"reason": "from globex", "from_user": "acme-alice", "to_user": "globex-admin"}
    ),
    ("POST", f"{REQUEST}/pause"): Case(json={"reason": "from globex"}),
    ("POST", f"{REQUEST}/resume"): Case(json={"reason": "from globex"}),
    ("POST", f"{REQUEST}/documents"): Case(upload=True),
    ("GET", f"{REQUEST}/documents"): Case(),
    ("GET", f"{REQUEST}/documents/{{document_id}}"): Case(),
    ("GET", f"{API_PREFIX}/templates/{{key}}"): Case(),
    ("PUT", f"{API_PREFIX}/templates/{{key}}"): Case(json=HIJACK_TEMPLATE),
    ("DELETE", f"{API_PREFIX}/templates/{{key}}"): Case(),
    ("POST", f"{API_PREFIX}/notifications/{{notification_id}}/read"): Case(),
    ("GET", f"{API_PREFIX}/webhooks/{{webhook_id}}"): Case(),
    ("PATCH", f"{API_PREFIX}/webhooks/{{webhook_id}}"): Case(
        json={"active": False, "url": "http://127.0.0.1:9/globex", "event_types": ["*"]}
    ),
    ("DELETE", f"{API_PREFIX}/webhooks/{{webhook_id}}"): Case(),
    ("GET", f"{API_PREFIX}/webhooks/{{webhook_id}}/deliveries"): Case(),
    ("POST", f"{API_PREFIX}/webhooks/{{webhook_id}}/rotate-secret"): Case(),
    ("POST", f"{API_PREFIX}/webhooks/deliveries/{{delivery_id}}/replay"): Case(),
    ("PATCH", f"{API_PREFIX}/users/{{user_id}}"): Case(
        json={
            "name": "Owned by Globex",
            "roles": ["ADMIN"],
            "active": False,
            "password": "globex-was-here-123",
        }
    ),
} | {route: Case(json=body) for route, body in AP_CASES.items()}


def id_routes() -> list[tuple[str, str]]:
    """(method, path) of every /api/v1 route of the app whose path takes an id."""
    app = create_app(Settings())
    # FastAPI >= 0.16x keeps included routers nested; flatten them when it can.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes: list[Any] = list(flatten(app.routes)) if flatten else list(app.routes)
    found = set()
    for route in routes:
        path = getattr(route, "path", None)
        if not path or not path.startswith(API_PREFIX + "/") or "{" not in path:
            continue
        for method in getattr(route, "methods", None) or ():
            if method not in ("HEAD", "OPTIONS"):
                found.add((method, path))
    return sorted(found, key=lambda mp: (mp[1], mp[0]))


ID_ROUTES = id_routes()


def missing_ids() -> dict[str, str]:
    """Ids of the same shapes that exist nowhere."""
    return {
        "request_id": f"req-{uuid.uuid4()}",
        "document_id": f"doc-{uuid.uuid4().hex}",
        "key": f"missing-{uuid.uuid4().hex[:12]}",
        "user_id": f"usr-{uuid.uuid4().hex[:16]}",
        "notification_id": str(900_000_000 + uuid.uuid4().int % 1_000_000),
        "webhook_id": f"whk-{uuid.uuid4().hex[:16]}",
        "delivery_id": f"req-{uuid.uuid4()}.3.whk-{uuid.uuid4().hex[:16]}",
    } | ap_missing_ids()


@dataclass(frozen=True)
class World:
    """Acme's objects, and tokens of both orgs."""

    acme_ids: dict[str, str]
    acme_admin: dict[str, str]
    globex_admin: dict[str, str]
    globex_user: dict[str, str]
    globex_request: str
    globex_template: str
    acme_alice: dict[str, str]


@pytest.fixture(scope="module")
async def world(stack: Stack) -> World:
    """A real acme request started by rita with a PDF on it, and a globex request too."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
        rita = await login(http, "rita@acme.test")
        started = await start_purchase(http, rita, title="Tenancy probe")
        request_id = str(started["request"]["request_id"])  # type: ignore[index]
        uploaded = await http.post(
            f"{API_PREFIX}/requests/{request_id}/documents",
            files={"file": ("quote.pdf", PDF, "application/pdf")},
            headers=rita,
        )
        assert uploaded.status_code == 201, uploaded.text

        globex_admin = await login(http, "admin@globex.test")
        globex_user = await login(http, "user@globex.test")
        key = f"gx-{uuid.uuid4().hex[:12]}"
        level = {"name": "Lead", "approvers": {"role": "team-lead"}, "tat": {"days": 1}}
        created = await http.post(
            f"{API_PREFIX}/templates",
            json={"key": key, "name": "Globex spend", "levels": [level]},
            headers=globex_admin,
        )
        assert created.status_code == 201, created.text
        theirs = await http.post(
            f"{API_PREFIX}/requests", json={"template_key": key, "title": "Gx"}, headers=globex_user
        )
        assert theirs.status_code == 201, theirs.text
        acme_admin = await login(http, "admin@acme.test")
        alice = await login(http, "alice@acme.test")
        hook = await http.post(
            f"{API_PREFIX}/webhooks",
            json={"url": "http://127.0.0.1:9/acme", "event_types": ["request.commented"]},
            headers=acme_admin,
        )
        assert hook.status_code == 201, hook.text
        hook_id = str(hook.json()["id"])
        said = await http.post(
            f"{API_PREFIX}/requests/{request_id}/comments", json={"text": "hi"}, headers=rita
        )
        assert said.status_code == 200, said.text
        delivery_id = await _first_delivery(http, acme_admin, hook_id)
        inbox = await http.get(f"{API_PREFIX}/notifications", headers=alice)
        notification = next(n for n in inbox.json()["items"] if n["request_id"] == request_id)
        ap_ids = await make_ap_objects(http, acme_admin, rita)
        return World(
            acme_ids={
                "request_id": request_id,
                "document_id": str(uploaded.json()["id"]),
                "key": "purchase",
                "user_id": "acme-rita",
                "notification_id": str(notification["id"]),
                "webhook_id": hook_id,
                "delivery_id": delivery_id,
            }
            | ap_ids,
            acme_admin=acme_admin,
            acme_alice=alice,
            globex_admin=globex_admin,
            globex_user=globex_user,
            globex_request=str(theirs.json()["request"]["request_id"]),
            globex_template=key,
        )


async def _first_delivery(http: httpx.AsyncClient, headers: dict[str, str], hook_id: str) -> str:
    """The first delivery to the webhook, once the notification activity has made it."""
    for _ in range(100):
        found = await http.get(f"{API_PREFIX}/webhooks/{hook_id}/deliveries", headers=headers)
        assert found.status_code == 200, found.text
        if found.json():
            return str(found.json()[0]["id"])
        await asyncio.sleep(0.1)
    raise AssertionError("no webhook delivery was made")


async def call(
    http: httpx.AsyncClient, method: str, url: str, case: Case, headers: dict[str, str]
) -> httpx.Response:
    """One call of a matrix case."""
    if case.upload:
        files = {"file": ("evil.pdf", PDF, "application/pdf")}
        return await http.request(method, url, files=files, params=case.params, headers=headers)
    return await http.request(method, url, json=case.json, params=case.params, headers=headers)


def without_instance(response: httpx.Response) -> dict[str, Any]:
    """A problem body without `instance` (the path, which differs by design)."""
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, Any] = response.json()
    body.pop("instance", None)
    return body


async def find_user(http: httpx.AsyncClient, headers: dict[str, str], user_id: str) -> Any:
    """A user of the caller's org from the paginated list, or None."""
    offset = 0
    while True:
        page = await http.get(
            f"{API_PREFIX}/users", params={"limit": 200, "offset": offset}, headers=headers
        )
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        match = next((u for u in items if u["id"] == user_id), None)
        if match is not None or not items:
            return match
        offset += len(items)


async def acme_view(http: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """What acme's own admin sees of the objects globex aims at."""
    ids = world.acme_ids
    request = await http.get(f"{API_PREFIX}/requests/{ids['request_id']}", headers=world.acme_admin)
    assert request.status_code == 200, request.text
    state = request.json()["request"]
    template = await http.get(f"{API_PREFIX}/templates/{ids['key']}", headers=world.acme_admin)
    assert template.status_code == 200, template.text
    user = await find_user(http, world.acme_admin, ids["user_id"])
    assert user is not None
    hook = await http.get(f"{API_PREFIX}/webhooks/{ids['webhook_id']}", headers=world.acme_admin)
    assert hook.status_code == 200, hook.text
    deliveries = await http.get(
        f"{API_PREFIX}/webhooks/{ids['webhook_id']}/deliveries", headers=world.acme_admin
    )
    inbox = await http.get(f"{API_PREFIX}/notifications", headers=world.acme_alice)
    note = next(n for n in inbox.json()["items"] if str(n["id"]) == ids["notification_id"])
    return {
        "webhook": hook.json(),
        "deliveries": sorted(d["id"] for d in deliveries.json()),
        "notification_read": note["read_at"],
        "status": state["status"],
        "audit": len(state["audit"]),
        "levels": state["levels"],
        "paused": state["paused"],
        "documents": [d["id"] for d in request.json()["documents"]],
        "template_version": template.json()["version"],
        "template_levels": template.json()["levels"],
        "user": {k: user[k] for k in ("roles", "active", "name", "email")},
        "ap": await ap_view(http, world.acme_admin, ids),
    }


def test_the_matrix_is_built_from_the_app() -> None:
    assert (
        "GET",
        REQUEST,
    ) in ID_ROUTES, "the app's routes could not be read; the matrix would prove nothing"
    assert not set(MATRIX) - set(ID_ROUTES), "matrix cases for routes the app no longer has"


@pytest.mark.parametrize(("method", "path"), ID_ROUTES, ids=[f"{m} {p}" for m, p in ID_ROUTES])
async def test_another_orgs_id_answers_404_like_a_missing_one(
    http: httpx.AsyncClient, world: World, method: str, path: str
) -> None:
    case = MATRIX.get((method, path))
    assert case is not None, f"{method} {path} takes an id but has no tenancy case in MATRIX"
    before = await acme_view(http, world)

    theirs = await call(http, method, path.format(**world.acme_ids), case, world.globex_admin)
    missing = await call(http, method, path.format(**missing_ids()), case, world.globex_admin)

    assert theirs.status_code == 404, theirs.text
    assert missing.status_code == 404, missing.text
    assert without_instance(theirs) == without_instance(missing)
    assert theirs.json()["detail"]
    assert await acme_view(http, world) == before


async def test_acme_objects_still_work_for_acme(http: httpx.AsyncClient, world: World) -> None:
    """After every attempt, rita still logs in with her password and owns her document."""
    await login(http, "rita@acme.test")
    ids = world.acme_ids
    url = f"{API_PREFIX}/requests/{ids['request_id']}/documents/{ids['document_id']}"
    download = await http.get(url, headers=world.acme_admin)
    assert download.status_code == 307
    view = await acme_view(http, world)
    assert view["status"] == "IN_PROGRESS" and not view["paused"]
    assert view["user"]["roles"] == ["USER"] and view["user"]["active"] is True


async def test_an_older_template_version_of_another_org_is_not_found(
    http: httpx.AsyncClient, world: World
) -> None:
    url = f"{API_PREFIX}/templates/{{}}"
    theirs = await http.get(
        url.format("purchase"), params={"version": 1}, headers=world.globex_admin
    )
    missing = await http.get(
        url.format(missing_ids()["key"]), params={"version": 1}, headers=world.globex_admin
    )
    assert theirs.status_code == missing.status_code == 404
    assert without_instance(theirs) == without_instance(missing)


async def test_another_orgs_document_under_an_own_request_is_not_found(
    http: httpx.AsyncClient, world: World
) -> None:
    base = f"{API_PREFIX}/requests/{world.globex_request}/documents"
    theirs = await http.get(f"{base}/{world.acme_ids['document_id']}", headers=world.globex_admin)
    missing = await http.get(f"{base}/{missing_ids()['document_id']}", headers=world.globex_admin)
    assert theirs.status_code == missing.status_code == 404
    assert without_instance(theirs) == without_instance(missing)
    own = await http.get(base, headers=world.globex_admin)
    assert own.status_code == 200 and own.json() == []


def org_rows(engine: Engine, org: str) -> dict[str, set[str]]:
    """Ids of an org's requests, live template keys and users, straight from SQL."""
    with Session(engine) as session:
        requests = session.exec(select(RequestRecord.id).where(col(RequestRecord.org_id) == org))
        templates = session.exec(
            select(Template.key).where(
                col(Template.org_id) == org, col(Template.deleted_at).is_(None)
            )
        )
        users = session.exec(select(User.id).where(col(User.org_id) == org))
        return {"requests": set(requests), "templates": set(templates), "users": set(users)}


async def test_lists_never_show_another_orgs_rows(
    http: httpx.AsyncClient, world: World, engine: Engine
) -> None:
    acme, globex = org_rows(engine, "acme"), org_rows(engine, "globex")
    assert world.acme_ids["request_id"] in acme["requests"]
    assert world.globex_request in globex["requests"]

    for headers in (world.globex_admin, world.globex_user):
        requests = await http.get(f"{API_PREFIX}/requests", params={"limit": 200}, headers=headers)
        assert requests.status_code == 200, requests.text
        ids = {r["id"] for r in requests.json()["items"]}
        assert ids == globex["requests"] and requests.json()["total"] == len(globex["requests"])
        by_key = await http.get(
            f"{API_PREFIX}/requests", params={"template": "purchase"}, headers=headers
        )
        assert by_key.json()["items"] == [] and by_key.json()["total"] == 0

        templates = await http.get(f"{API_PREFIX}/templates", headers=headers)
        assert templates.status_code == 200, templates.text
        keys = {t["key"] for t in templates.json()["items"]}
        assert keys == globex["templates"]
        assert "purchase" not in keys and "leave" not in keys

    users = await http.get(f"{API_PREFIX}/users", params={"limit": 200}, headers=world.globex_admin)
    assert users.status_code == 200, users.text
    assert {u["id"] for u in users.json()["items"]} == globex["users"]
    assert {u["org_id"] for u in users.json()["items"]} == {"globex"}
    assert users.json()["total"] == len(globex["users"])

    # And the other way round: acme never sees globex's rows.
    theirs = {"template": world.globex_template}
    mine = await http.get(f"{API_PREFIX}/requests", params=theirs, headers=world.acme_admin)
    assert mine.status_code == 200 and mine.json()["total"] == 0
    everything = await http.get(f"{API_PREFIX}/requests", headers=world.acme_admin)
    assert everything.json()["total"] == len(acme["requests"])
    listed = await http.get(f"{API_PREFIX}/templates", headers=world.acme_admin)
    assert {t["key"] for t in listed.json()["items"]} == acme["templates"]
    assert await find_user(http, world.acme_admin, "globex-admin") is None
