"""Forged, altered and misused tokens on GET /api/v1/me of the shared stack: each is a 401."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.api.test_auth import (
    ME,
    WRONG_KEY,
    access_claims,
    assert_unauthorized,
    b64,
    bearer,
    hs256,
    rs256,
    token_pair,
    unsigned,
)


def _tampered(token: str) -> str:
    """The token with ADMIN put into its roles, the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["ADMIN"]
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


def _without(claim: str) -> str:
    return hs256({k: v for k, v in access_claims().items() if k != claim})


def _expired() -> str:
    now = int(time.time())
    return hs256(access_claims(iat=now - 3600, exp=now - 60))


Attack = Callable[[dict[str, Any]], str | None]
ATTACKS: list[tuple[str, Attack, str]] = [
    ("no-token", lambda pair: None, "a bearer token is required"),
    ("garbage", lambda pair: "not.a.jwt", "invalid token"),
    ("alg-none", lambda pair: unsigned(access_claims()), "'none' are not accepted"),
    ("wrong-key", lambda pair: hs256(access_claims(), WRONG_KEY), "signature"),
    ("expired", lambda pair: _expired(), "expired"),
    ("tampered-roles", lambda pair: _tampered(pair["access_token"]), "signature"),
    ("wrong-aud", lambda pair: hs256(access_claims(aud="another-api")), "audience"),
    ("wrong-iss", lambda pair: hs256(access_claims(iss="someone-else")), "issuer"),
    ("refresh-as-access", lambda pair: pair["refresh_token"], "not an access token"),
    ("unknown-user", lambda pair: hs256(access_claims(sub="acme-ghost")), "does not exist"),
    ("other-org-claim", lambda pair: hs256(access_claims(org="globex")), "org does not match"),
    ("no-jti", lambda pair: _without("jti"), "jti"),
    ("no-exp", lambda pair: _without("exp"), "exp"),
    ("rs256-no-oidc", lambda pair: rs256(access_claims()), "'RS256' are not accepted"),
]


async def test_a_token_signed_with_the_secret_is_accepted(http: httpx.AsyncClient) -> None:
    """The control for the attacks below: each changes one thing of this token."""
    response = await http.get(ME, headers=bearer(hs256(access_claims())))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == "acme-alice"


@pytest.mark.parametrize(
    ("attack", "detail"), [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS]
)
async def test_forged_or_misused_tokens_are_401(
    http: httpx.AsyncClient, attack: Attack, detail: str
) -> None:
    token = attack(await token_pair(http))
    assert_unauthorized(await http.get(ME, headers=bearer(token)), detail)


async def test_other_schemes_are_not_a_bearer_token(http: httpx.AsyncClient) -> None:
    token = hs256(access_claims())
    for header in (f"Basic {token}", token, "Bearer"):
        response = await http.get(ME, headers={"Authorization": header})
        assert_unauthorized(response, "a bearer token is required")
