"""Auth over real HTTP: login, /me, refresh rotation and reuse detection, lockout.

Also the helpers of test_auth_tokens.py and test_auth_oidc.py: tokens signed by hand."""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from temporalio.testing import WorkflowEnvironment

from devstack.demo import DEMO_PASSWORD
from tests.api.conftest import SECRET, Stack, login, stack_env, start_stack

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/me"
PROBLEM = "application/problem+json"
WRONG_KEY = "a-different-secret-key-of-the-same-length-!"
KID = "idp-key-1"
FRESH_PASSWORD = "a-long-enough-password"


# ---- helpers ---------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    """Base64url without padding, as in a JWT."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a valid access token of alice, as the stack itself signs them."""
    now = int(time.time())
    claims = {
        "sub": "acme-alice",
        "org": "acme",
        "roles": ["USER", "team-lead"],
        "typ": "access",
        "iss": "signoff",
        "aud": "signoff-api",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    return claims | overrides


def hs256(claims: dict[str, Any], key: str = SECRET) -> str:
    """The claims signed with HS256 (the stack's own secret unless told otherwise)."""
    return jwt.encode(claims, key, algorithm="HS256")


@functools.cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """An RSA key per name, made once per test run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rs256(claims: dict[str, Any], key: str = "idp", kid: str = KID) -> str:
    """The claims signed with RS256 by the named RSA key."""
    return jwt.encode(claims, rsa_key(key), algorithm="RS256", headers={"kid": kid})


def unsigned(claims: dict[str, Any]) -> str:
    """An `alg: none` token: no signature at all."""
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def bearer(token: str | None) -> dict[str, str]:
    """The Authorization header for a token; none for None."""
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, detail: str = "") -> dict[str, Any]:
    """A problem+json answer of this status whose detail contains `detail`; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert detail.lower() in body["detail"].lower(), body
    return body


def assert_unauthorized(response: httpx.Response, detail: str = "") -> dict[str, Any]:
    """A 401 problem asking for a bearer token."""
    body = assert_problem(response, 401, detail)
    assert response.headers["www-authenticate"] == "Bearer"
    return body


async def token_pair(http: httpx.AsyncClient, email: str = "alice@acme.test") -> dict[str, Any]:
    """A fresh login's access and refresh token."""
    response = await http.post(TOKEN, json={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


async def refresh(http: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    """POST /auth/refresh."""
    return await http.post(REFRESH, json={"refresh_token": refresh_token})


def own_stack(
    dev_env: WorkflowEnvironment, database_url: str, folder: Path, **extra: str
) -> Iterator[Stack]:
    """An API process of a test module's own on the shared database, stopped afterwards."""
    running = start_stack(stack_env(dev_env, database_url, folder, **extra), folder, worker=False)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def lockout_stack(
    stack: Stack,  # seeds the demo users into the database shared with this API
    dev_env: WorkflowEnvironment,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("lockout")
    yield from own_stack(dev_env, database_url, folder, SIGNOFF_LOGIN_MAX_FAILURES="3")


async def _fresh_user(client: httpx.AsyncClient) -> str:
    """A new acme user with FRESH_PASSWORD, made by the admin; its e-mail."""
    admin = await login(client, "admin@acme.test")
    email = f"lock-{uuid.uuid4().hex[:10]}@acme.test"
    body = {"email": email, "name": "Lock Test", "password": FRESH_PASSWORD}
    created = await client.post("/api/v1/users", json=body, headers=admin)
    assert created.status_code == 201, created.text
    return email


# ---- login and /me ---------------------------------------------------------------------------


async def test_login_with_json_or_the_oauth2_form_and_me(http: httpx.AsyncClient) -> None:
    by_json = await http.post(TOKEN, json={"email": "alice@acme.test", "password": DEMO_PASSWORD})
    form = {"username": "alice@acme.test", "password": DEMO_PASSWORD}
    by_form = await http.post(TOKEN, data=form)
    for response in (by_json, by_form):
        assert response.status_code == 200, response.text
        pair = response.json()
        assert pair["token_type"] == "bearer" and pair["expires_in"] == 15 * 60
        assert pair["access_token"] and pair["refresh_token"]
        me = await http.get(ME, headers=bearer(pair["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json() == {
            "id": "acme-alice",
            "org_id": "acme",
            "email": "alice@acme.test",
            "name": "Alice Lead",
            "roles": ["USER", "team-lead"],
            "mfa_enabled": False,
        }
    globex = await http.get(ME, headers=await login(http, "user@globex.test"))
    assert globex.status_code == 200, globex.text
    assert globex.json()["id"] == "globex-user" and globex.json()["org_id"] == "globex"
    assert globex.json()["roles"] == ["USER", "team-lead"]


async def test_email_is_case_insensitive(http: httpx.AsyncClient) -> None:
    by_json = await http.post(TOKEN, json={"email": " Bob@ACME.Test ", "password": DEMO_PASSWORD})
    by_form = await http.post(TOKEN, data={"username": "BOB@acme.test", "password": DEMO_PASSWORD})
    for response in (by_json, by_form):
        assert response.status_code == 200, response.text
        me = await http.get(ME, headers=bearer(response.json()["access_token"]))
        assert me.json()["id"] == "acme-bob"


async def test_wrong_password_and_unknown_email_look_the_same(http: httpx.AsyncClient) -> None:
    wrong = await http.post(TOKEN, json={"email": "rita@acme.test", "password": "nope-nope"})
    unknown = await http.post(TOKEN, json={"email": "nobody@acme.test", "password": "nope-nope"})
    by_form = await http.post(TOKEN, data={"username": "rita@acme.test", "password": "nope"})
    details = {assert_unauthorized(r)["detail"] for r in (wrong, unknown, by_form)}
    assert details == {"wrong e-mail or password"}
    assert "access_token" not in wrong.text
    await login(http, "rita@acme.test")  # a good login clears rita's failure count again


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        ('{"email": "alice@acme.test", "password": ', {"content-type": "application/json"}),
        ('{"email": "alice@acme.test"}', {"content-type": "application/json"}),
        ('{"email": "not-an-email", "password": "x"}', {"content-type": "application/json"}),
        ('["alice@acme.test", "signoff-demo"]', {"content-type": "application/json"}),
        ('{"email": "alice@acme.test", "password": ""}', {"content-type": "application/json"}),
        ("username=alice%40acme.test", {"content-type": "application/x-www-form-urlencoded"}),
        ("", {}),
    ],
    ids=["broken-json", "no-password", "bad-email", "json-list", "empty-pw", "form-no-pw", "empty"],
)
async def test_malformed_login_is_422(
    http: httpx.AsyncClient, content: str, headers: dict[str, str]
) -> None:
    response = await http.post(TOKEN, content=content, headers=headers)
    body = assert_problem(response, 422, "an e-mail and a password are needed")
    assert body["instance"] == TOKEN


# ---- refresh ---------------------------------------------------------------------------------


async def test_refresh_rotates_and_old_access_tokens_live_on(http: httpx.AsyncClient) -> None:
    first = await token_pair(http)
    rotated = await refresh(http, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["token_type"] == "bearer" and second["expires_in"] == 15 * 60
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    for access in (first["access_token"], second["access_token"]):
        me = await http.get(ME, headers=bearer(access))
        assert me.status_code == 200 and me.json()["id"] == "acme-alice"
    third = await refresh(http, second["refresh_token"])
    assert third.status_code == 200, third.text


async def test_reusing_a_refresh_token_revokes_its_family_only(http: httpx.AsyncClient) -> None:
    stolen = await token_pair(http)
    other_login = await token_pair(http)
    newer = await refresh(http, stolen["refresh_token"])
    assert newer.status_code == 200, newer.text

    assert_unauthorized(await refresh(http, stolen["refresh_token"]), "already used")
    assert_unauthorized(await refresh(http, newer.json()["refresh_token"]), "revoked")
    assert_unauthorized(await refresh(http, stolen["refresh_token"]), "revoked")

    unaffected = await refresh(http, other_login["refresh_token"])
    assert unaffected.status_code == 200, unaffected.text
    again = await refresh(http, unaffected.json()["refresh_token"])
    assert again.status_code == 200, again.text


async def test_refresh_refuses_what_is_not_a_refresh_token(http: httpx.AsyncClient) -> None:
    pair = await token_pair(http)
    assert_unauthorized(await refresh(http, pair["access_token"]), "invalid refresh token")
    forged = hs256(access_claims(typ="refresh", fam="x"), WRONG_KEY)
    assert_unauthorized(await refresh(http, forged), "signature")
    never_issued = hs256(access_claims(typ="refresh", fam="x"))
    assert_unauthorized(await refresh(http, never_issued), "revoked")
    expired = hs256(access_claims(typ="refresh", fam="x", exp=int(time.time()) - 60))
    assert_unauthorized(await refresh(http, expired), "expired")
    assert_problem(await http.post(REFRESH, json={}), 422)


# ---- lockout ---------------------------------------------------------------------------------


async def test_lockout_after_max_failures(lockout_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=lockout_stack.url, timeout=30) as client:
        locked, neighbour = await _fresh_user(client), await _fresh_user(client)

        for _ in range(3):
            wrong = await client.post(TOKEN, json={"email": locked, "password": "wrong-password"})
            assert_unauthorized(wrong, "wrong e-mail or password")
        for attempt in (FRESH_PASSWORD, "wrong-password"):
            refused = await client.post(TOKEN, json={"email": locked, "password": attempt})
            assert_problem(refused, 429, "too many failed logins")
            assert 0 < int(refused.headers["retry-after"]) <= 15 * 60 + 1
            assert "access_token" not in refused.text
        form = {"username": locked, "password": FRESH_PASSWORD}
        assert_problem(await client.post(TOKEN, data=form), 429)

        for _ in range(2):  # below the limit twice: a good login starts the count afresh
            for _ in range(2):
                wrong = await client.post(TOKEN, json={"email": neighbour, "password": "nope"})
                assert_unauthorized(wrong)
            await login(client, neighbour, FRESH_PASSWORD)
        await login(client, "alice@acme.test")


async def test_concurrent_wrong_passwords_still_lock(lockout_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=lockout_stack.url, timeout=30) as client:
        email = await _fresh_user(client)
        wrong = {"email": email, "password": "wrong-password"}
        burst = await asyncio.gather(*(client.post(TOKEN, json=wrong) for _ in range(9)))
        assert {r.status_code for r in burst} <= {401, 429}
        refused = await client.post(TOKEN, json={"email": email, "password": FRESH_PASSWORD})
        assert_problem(refused, 429, "too many failed logins")
