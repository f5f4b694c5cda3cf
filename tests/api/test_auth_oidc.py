"""OIDC: an API process of its own that also accepts RS256 tokens of an identity provider whose
JWKS a local HTTP server serves."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm
from temporalio.testing import WorkflowEnvironment

from tests.api.conftest import Stack
from tests.api.test_auth import (
    KID,
    ME,
    WRONG_KEY,
    access_claims,
    assert_unauthorized,
    b64,
    bearer,
    hs256,
    own_stack,
    refresh,
    rs256,
    rsa_key,
    token_pair,
    unsigned,
)

IDP_ISSUER = "https://idp.example.test"
IDP_AUDIENCE = "signoff-oidc-client"


class JwksServer:
    """Serves one JWKS document over HTTP on 127.0.0.1 (a free port), from a thread."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        body = json.dumps(jwks).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def idp_claims(**overrides: Any) -> dict[str, Any]:
    """Claims of a valid token of the identity provider, for alice."""
    now = int(time.time())
    claims = {"sub": "acme-alice", "iss": IDP_ISSUER, "aud": IDP_AUDIENCE, "iat": now}
    return claims | {"exp": now + 600} | overrides


def _hmac_with_public_key(claims: dict[str, Any]) -> str:
    """HS256 keyed with the IdP's public key PEM: the classic algorithm-confusion forgery."""
    pem = (
        rsa_key("idp")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    jwk = RSAAlgorithm.to_jwk(rsa_key("idp").public_key(), as_dict=True)
    server = JwksServer({"keys": [jwk | {"kid": KID, "use": "sig", "alg": "RS256"}]})
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def oidc_stack(
    stack: Stack,  # seeds the demo users into the database shared with this API
    dev_env: WorkflowEnvironment,
    database_url: str,
    jwks_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("oidc")
    yield from own_stack(
        dev_env,
        database_url,
        folder,
        SIGNOFF_OIDC_JWKS_URL=jwks_url,
        SIGNOFF_OIDC_ISSUER=IDP_ISSUER,
        SIGNOFF_OIDC_AUDIENCE=IDP_AUDIENCE,
    )


@pytest.fixture
async def oidc_http(oidc_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=oidc_stack.url, timeout=30) as client:
        yield client


@pytest.mark.parametrize(
    ("claims", "user"),
    [
        ({"sub": "acme-alice"}, "acme-alice"),
        ({"sub": "idp|4711", "email": "bob@acme.test"}, "acme-bob"),
        ({"sub": "idp|4712", "email": "admin@globex.test"}, "globex-admin"),
    ],
    ids=["sub-is-user-id", "email-claim", "email-of-other-org"],
)
async def test_oidc_tokens_are_accepted(
    oidc_http: httpx.AsyncClient, claims: dict[str, Any], user: str
) -> None:
    response = await oidc_http.get(ME, headers=bearer(rs256(idp_claims(**claims))))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == user


async def test_oidc_email_claim_is_case_insensitive(oidc_http: httpx.AsyncClient) -> None:
    token = rs256(idp_claims(sub="idp|4713", email="Carol@ACME.test"))
    response = await oidc_http.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == "acme-carol"


def _expired() -> str:
    now = int(time.time())
    return rs256(idp_claims(iat=now - 3600, exp=now - 60))


OIDC_ATTACKS: list[tuple[str, Callable[[], str], str]] = [
    ("other-rsa-key", lambda: rs256(idp_claims(), key="intruder"), "signature"),
    ("unknown-kid", lambda: rs256(idp_claims(), key="intruder", kid="kid-2"), "signing key"),
    ("wrong-issuer", lambda: rs256(idp_claims(iss="https://evil.test")), "issuer"),
    ("our-issuer", lambda: rs256(idp_claims(iss="signoff")), "issuer"),
    ("wrong-audience", lambda: rs256(idp_claims(aud="another-client")), "audience"),
    ("expired", _expired, "expired"),
    ("unknown-sub", lambda: rs256(idp_claims(sub="idp|nobody")), "does not exist"),
    ("unknown-email", lambda: rs256(idp_claims(sub="x", email="no@acme.test")), "not exist"),
    ("alg-confusion", lambda: _hmac_with_public_key(idp_claims()), "signature"),
    ("alg-none", lambda: unsigned(idp_claims()), "'none' are not accepted"),
    ("own-claims-rs256", lambda: rs256(access_claims()), "issuer"),
]


@pytest.mark.parametrize(
    ("attack", "detail"), [a[1:] for a in OIDC_ATTACKS], ids=[a[0] for a in OIDC_ATTACKS]
)
async def test_bad_oidc_tokens_are_401(
    oidc_http: httpx.AsyncClient, attack: Callable[[], str], detail: str
) -> None:
    assert_unauthorized(await oidc_http.get(ME, headers=bearer(attack())), detail)


async def test_own_tokens_keep_working_with_oidc(oidc_http: httpx.AsyncClient) -> None:
    pair = await token_pair(oidc_http, "manager@acme.test")
    me = await oidc_http.get(ME, headers=bearer(pair["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == "acme-manager" and me.json()["roles"] == ["MANAGEMENT"]
    rotated = await refresh(oidc_http, pair["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    signed = await oidc_http.get(ME, headers=bearer(hs256(access_claims())))
    assert signed.status_code == 200 and signed.json()["id"] == "acme-alice"
    forged = await oidc_http.get(ME, headers=bearer(hs256(access_claims(), WRONG_KEY)))
    assert_unauthorized(forged, "signature")
