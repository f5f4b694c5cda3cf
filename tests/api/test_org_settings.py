"""The org's settings over real HTTP: ADMIN makes MFA mandatory; ADMIN and MANAGEMENT users
without it enrol at their next login, USERs do not, and nobody is locked out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pyotp
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.security import hash_password
from devstack.demo import DEMO_PASSWORD
from store.db import transaction
from store.security_events import SecurityEvent
from store.tables import Org, User
from tests.api.conftest import Stack, as_user, login
from tests.api.test_mfa import assert_refused, bearer, code

SETTINGS = "/api/v1/org/settings"
TOKEN = "/api/v1/auth/token"


@dataclass(frozen=True)
class Tenant:
    """An org of this module's own (the demo org's settings stay as other tests expect)."""

    org_id: str
    admin: str
    manager: str
    user: str


@pytest.fixture(scope="module")
def tenant(stack: Stack, engine: Engine) -> Tenant:
    """A fresh org with an ADMIN, a MANAGEMENT and a USER, all with DEMO_PASSWORD."""
    org_id = f"initech-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    hashed = hash_password(DEMO_PASSWORD)
    people = {role: f"{role.lower()}@{org_id}.test" for role in ("ADMIN", "MANAGEMENT", "USER")}
    with transaction(engine) as session:
        session.add(Org(id=org_id, name="Initech", calendar={}, created_at=now))
        session.flush()
        for role, email in people.items():
            session.add(
                User(
                    id=f"{org_id}-{role.lower()}",
                    org_id=org_id,
                    email=email,
                    name=role.title(),
                    roles=[role],
                    password_hash=hashed,
                    created_at=now,
                )
            )
    return Tenant(org_id, people["ADMIN"], people["MANAGEMENT"], people["USER"])


async def password_login(http: httpx.AsyncClient, email: str) -> httpx.Response:
    """The answer to e-mail and the demo password."""
    return await http.post(TOKEN, json={"email": email, "password": DEMO_PASSWORD})


async def test_only_an_admin_reads_or_changes_settings(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    user = await login(http, tenant.user)
    assert_refused(await http.get(SETTINGS, headers=user), 403, "ADMIN")
    patch = await http.patch(SETTINGS, json={"mfa_required": True}, headers=user)
    assert_refused(patch, 403)
    assert_refused(await http.get(SETTINGS), 401)
    admin = await login(http, tenant.admin)
    read = await http.get(SETTINGS, headers=admin)
    assert read.status_code == 200, read.text
    assert read.json() == {"mfa_required": False, "users_to_enrol": 2}
    bad = await http.patch(SETTINGS, json={"mfa_required": "sometimes"}, headers=admin)
    assert bad.status_code == 422, bad.text
    # Acme's admin sees Acme's settings, not this org's.
    acme = await http.get(SETTINGS, headers=await as_user(http, "admin@acme.test"))
    assert acme.json()["mfa_required"] is False


async def test_mandatory_mfa_leads_admins_through_enrolment(
    http: httpx.AsyncClient, tenant: Tenant, engine: Engine
) -> None:
    before = (await password_login(http, tenant.admin)).json()
    admin = bearer(before["access_token"])
    body = {"mfa_required": True, "reason": "auditor's finding 7"}
    changed = await http.patch(SETTINGS, json=body, headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {"mfa_required": True, "users_to_enrol": 2}
    with Session(engine) as session:
        recorded = session.exec(
            select(SecurityEvent).where(
                col(SecurityEvent.kind) == "org_settings_changed",
                col(SecurityEvent.org_id) == tenant.org_id,
            )
        ).all()
    assert len(recorded) == 1
    assert recorded[0].reason == "auditor's finding 7" and recorded[0].ip == "127.0.0.1"
    assert recorded[0].actor == f"{tenant.org_id}-admin"
    assert recorded[0].detail == {"mfa_required": {"from": False, "to": True}}

    # The admin who switched it on is not thrown out mid-session...
    assert (await http.get(SETTINGS, headers=admin)).status_code == 200
    # ...but their session ends at its next refresh and the next login enrols.
    refreshed = await http.post(
        "/api/v1/auth/refresh", json={"refresh_token": before["refresh_token"]}
    )
    assert_refused(refreshed, 401, "requires MFA")

    as_user_role = await password_login(http, tenant.user)
    assert as_user_role.status_code == 200 and as_user_role.json()["access_token"]

    answer = await password_login(http, tenant.admin)
    assert answer.status_code == 200, answer.text
    gate = answer.json()
    assert gate["mfa_required"] is True and gate["mfa_enrollment_required"] is True
    assert "access_token" not in gate and gate["challenge"] is None
    enrolment = bearer(gate["enrollment_token"])
    for path in ("/api/v1/me", SETTINGS, "/api/v1/users"):
        assert_refused(await http.get(path, headers=enrolment), 401)
    assert_refused(await http.post("/api/v1/me/mfa/recovery-codes", json={"code": "1"}), 401)

    started = await http.post("/api/v1/me/mfa/totp", headers=enrolment)
    assert started.status_code == 200, started.text
    totp = pyotp.TOTP(started.json()["secret"])
    confirmed = await http.post(
        "/api/v1/me/mfa/totp/confirm", json={"code": code(totp)}, headers=enrolment
    )
    assert confirmed.status_code == 200, confirmed.text
    assert len(confirmed.json()["recovery_codes"]) == 10
    tokens = confirmed.json()["tokens"]
    assert tokens["access_token"] and tokens["refresh_token"]
    enrolled = bearer(tokens["access_token"])
    after = await http.get(SETTINGS, headers=enrolled)
    assert after.json() == {"mfa_required": True, "users_to_enrol": 1}
    # The enrolment token is spent: it cannot enrol again nor get more tokens.
    again = await http.post(
        "/api/v1/me/mfa/totp/confirm", json={"code": code(totp, 1)}, headers=enrolment
    )
    assert_refused(again, 409)
    assert_refused(await http.post("/api/v1/me/mfa/totp", headers=enrolment), 409)
    # Nor may an ADMIN of an org that requires MFA turn it off.
    off = await http.request(
        "DELETE", "/api/v1/me/mfa", json={"code": code(totp, 1)}, headers=enrolled
    )
    assert_refused(off, 409, "requires MFA")
    # From now on the admin logs in with a code.
    next_login = (await password_login(http, tenant.admin)).json()
    assert next_login["mfa_enrollment_required"] is False and next_login["challenge"]

    manager = (await password_login(http, tenant.manager)).json()
    assert manager["mfa_enrollment_required"] is True and "access_token" not in manager

    with Session(engine) as session:
        admin_row = session.get(User, f"{tenant.org_id}-admin")
        assert admin_row is not None and admin_row.mfa_enabled
        kinds = session.exec(
            select(SecurityEvent.kind).where(
                col(SecurityEvent.subject) == f"user:{tenant.org_id}-admin"
            )
        ).all()
    assert "mfa_enrolled" in kinds and "login_succeeded" in kinds
