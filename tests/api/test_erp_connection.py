"""An org's ERP connection on the real stack: its secret sealed in SQL under the org's row, never
shown after it is set, opened only in process by `load_erp_credentials`, kept when a change
leaves it out, and every change a security event that does not hold it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session, select

from config.settings import Settings
from erp.credentials import load_erp_credentials
from store.erp_tables import ErpConnection
from store.secret_box import SecretBox, parse_key_ring
from tests.api.conftest import ENCRYPTION_KEYS, Stack, as_user
from tests.api.secret_fixtures import ADMIN, V1, security_events, stack_logs

URL = f"{V1}/org/erp-connection"
ORG = "acme"
SUBJECT = f"erp_connection:{ORG}"
# Distinctive, so finding it anywhere (a log, an answer) cannot be a coincidence.
ERP_PASSWORD = f"Erp-Vault-{uuid.uuid4().hex}"
CONNECTION = {"adapter": "sap", "base_url": "https://erp.acme.test/api", "username": "signoff"}


def _stored(engine: Engine) -> str | None:
    """The secret column of the org's connection, as SQL holds it."""
    with Session(engine) as session:
        return session.exec(select(ErpConnection.secret).where(ErpConnection.org_id == ORG)).first()


def _settings(database_url: str, folder: Path) -> Settings:
    """What a worker running an ERP adapter has: the database and the stack's key ring."""
    return Settings(
        database_url=database_url, data_dir=folder, encryption_keys=SecretStr(ENCRYPTION_KEYS)
    )


def _is_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status


async def _without_connection(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    """Start from no connection (the OpenAPI fuzz may have left one)."""
    deleted = await http.delete(URL, headers=admin)
    assert deleted.status_code in (204, 404), deleted.text


async def test_an_erp_secret_is_sealed_never_shown_and_opened_only_in_process(
    http: httpx.AsyncClient, stack: Stack, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    admin = await as_user(http, ADMIN)
    await _without_connection(http, admin)
    seen = len(security_events(engine, SUBJECT))
    _is_problem(await http.get(URL, headers=admin), 404)

    # A first connection without a secret has nothing to keep: refused, saying which field.
    missing = await http.put(URL, json=CONNECTION, headers=admin)
    _is_problem(missing, 422)
    assert "secret" in missing.json()["detail"]
    assert missing.json()["errors"][0]["loc"] == ["body", "secret"]
    assert _stored(engine) is None

    created = await http.put(URL, json=CONNECTION | {"secret": ERP_PASSWORD}, headers=admin)
    assert created.status_code == 200, created.text
    assert ERP_PASSWORD not in created.text and "enc:v1:" not in created.text
    assert created.json() | {"updated_at": None} == CONNECTION | {
        "has_secret": True,
        "updated_by": "acme-admin",
        "updated_at": None,
    }

    # In SQL: sealed under the ring's current key, bound to the org's row.
    sealed = _stored(engine)
    assert sealed is not None and sealed.startswith("enc:v1:test:")
    assert ERP_PASSWORD not in sealed
    ring = SecretBox(parse_key_ring(ENCRYPTION_KEYS))
    assert ring.decrypt(sealed, context=f"erp_connections.secret:{ORG}") == ERP_PASSWORD

    # In the process of an ERP adapter: opened by the org's id, and not shown by its repr.
    settings = _settings(database_url, tmp_path)
    credentials = load_erp_credentials(engine, settings, ORG)
    assert credentials is not None and credentials.secret == ERP_PASSWORD
    assert (credentials.adapter, credentials.base_url, credentials.username) == (
        "sap",
        "https://erp.acme.test/api",
        "signoff",
    )
    assert ERP_PASSWORD not in repr(credentials) and ERP_PASSWORD not in str(credentials)
    assert load_erp_credentials(engine, settings, "no-such-org") is None

    shown = await http.get(URL, headers=admin)
    assert shown.status_code == 200 and shown.json()["has_secret"] is True
    assert ERP_PASSWORD not in shown.text and "enc:v1:" not in shown.text

    # A change without a secret keeps the stored one, untouched.
    moved = CONNECTION | {"base_url": "https://erp2.acme.test/", "username": None}
    kept = await http.put(URL, json=moved, headers=admin)
    assert kept.status_code == 200, kept.text
    assert kept.json()["has_secret"] is True and kept.json()["username"] is None
    assert _stored(engine) == sealed
    credentials = load_erp_credentials(engine, settings, ORG)
    assert credentials is not None and credentials.secret == ERP_PASSWORD
    assert credentials.base_url == "https://erp2.acme.test/"

    # Setting it again seals it afresh.
    again = await http.put(URL, json=moved | {"secret": ERP_PASSWORD}, headers=admin)
    assert again.status_code == 200 and ERP_PASSWORD not in again.text
    resealed = _stored(engine)
    assert resealed is not None and resealed != sealed and resealed.startswith("enc:v1:test:")

    deleted = await http.delete(URL, headers=admin)
    assert deleted.status_code == 204, deleted.text
    _is_problem(await http.get(URL, headers=admin), 404)
    _is_problem(await http.delete(URL, headers=admin), 404)
    assert _stored(engine) is None and load_erp_credentials(engine, settings, ORG) is None

    events = security_events(engine, SUBJECT)[seen:]
    assert [(e.kind, e.detail.get("action")) for e in events] == [
        ("secret_changed", "set"),
        ("org_settings_changed", None),
        ("org_settings_changed", None),
        ("secret_changed", "changed"),
        ("secret_changed", "deleted"),
    ]
    assert all((e.org_id, e.actor, e.ip) == (ORG, "acme-admin", "127.0.0.1") for e in events)
    assert events[2].detail["erp_connection"]["base_url"] == {
        "from": "https://erp.acme.test/api",
        "to": "https://erp2.acme.test/",
    }
    assert ERP_PASSWORD not in json.dumps([e.detail for e in events])
    assert ERP_PASSWORD not in stack_logs(stack)


async def test_only_an_admin_of_the_org_reaches_the_connection(
    http: httpx.AsyncClient, engine: Engine
) -> None:
    admin = await as_user(http, ADMIN)
    await _without_connection(http, admin)
    body = CONNECTION | {"secret": ERP_PASSWORD}
    put = await http.put(URL, json=body, headers=admin)
    assert put.status_code == 200, put.text
    try:
        user = await as_user(http, "rita@acme.test")
        _is_problem(await http.get(URL, headers=user), 403)
        _is_problem(
            await http.put(URL, json=body | {"base_url": "https://x.test"}, headers=user), 403
        )
        _is_problem(await http.delete(URL, headers=user), 403)
        # Another org's ADMIN sees only their own org, which has none.
        _is_problem(await http.get(URL, headers=await as_user(http, "admin@globex.test")), 404)
        shown = (await http.get(URL, headers=admin)).json()
        assert shown["base_url"] == CONNECTION["base_url"]
    finally:
        await _without_connection(http, admin)


async def test_an_invalid_connection_is_refused_as_a_problem(
    http: httpx.AsyncClient, engine: Engine
) -> None:
    admin = await as_user(http, ADMIN)
    await _without_connection(http, admin)
    valid = CONNECTION | {"secret": ERP_PASSWORD}
    for wrong, field in (
        ({"base_url": "ftp://erp.acme.test/"}, "base_url"),
        ({"base_url": "not a url"}, "base_url"),
        ({"adapter": ""}, "adapter"),
        ({"secret": ""}, "secret"),
        ({"secret": "nul\x00inside"}, "secret"),
    ):
        refused = await http.put(URL, json=valid | wrong, headers=admin)
        _is_problem(refused, 422)
        assert ["body", field] in [e["loc"] for e in refused.json()["errors"]], refused.text
        assert ERP_PASSWORD not in refused.text
    assert _stored(engine) is None
