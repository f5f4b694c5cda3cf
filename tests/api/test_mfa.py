"""MFA over real HTTP: TOTP enrolment with a QR code, the login challenge, codes accepted once,
recovery codes, turning MFA off, the operator's reset, and the security events of it all."""

from __future__ import annotations

import base64
import re
import subprocess
import time
import uuid
from typing import Any
from xml.etree import ElementTree

import httpx
import pyotp
import segno
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from devstack.temporal import installed_binary
from store.security_events import SecurityEvent
from store.tables import RecoveryCode, User
from tests.api.conftest import Stack, as_user

TOKEN = "/api/v1/auth/token"
MFA_LOGIN = "/api/v1/auth/mfa"
ME = "/api/v1/me"
TOTP = "/api/v1/me/mfa/totp"
CONFIRM = "/api/v1/me/mfa/totp/confirm"
RECOVERY = "/api/v1/me/mfa/recovery-codes"
MFA = "/api/v1/me/mfa"
PASSWORD = "correct-horse-battery-mfa"


# ---- helpers ---------------------------------------------------------------------------------


async def new_user(http: httpx.AsyncClient, roles: list[str] | None = None) -> tuple[str, str]:
    """A new acme user with PASSWORD; its id and e-mail."""
    admin = await as_user(http, "admin@acme.test")
    email = f"mfa-{uuid.uuid4().hex[:10]}@acme.test"
    body = {"email": email, "name": "Mfa Person", "password": PASSWORD, "roles": roles or ["USER"]}
    created = await http.post("/api/v1/users", json=body, headers=admin)
    assert created.status_code == 201, created.text
    return str(created.json()["id"]), email


async def password_login(http: httpx.AsyncClient, email: str) -> httpx.Response:
    """The answer to e-mail and password."""
    return await http.post(TOKEN, json={"email": email, "password": PASSWORD})


def bearer(token: str) -> dict[str, str]:
    """Authorization headers of a token."""
    return {"Authorization": f"Bearer {token}"}


def code(totp: pyotp.TOTP, steps_ahead: int = 0) -> str:
    """The app's code now, or that many 30-second steps later (the server allows one)."""
    return totp.at(time.time() + 30 * steps_ahead)


def wrong(totp: pyotp.TOTP) -> str:
    """A code that is not the current one."""
    return f"{(int(totp.now()) + 500_000) % 1_000_000:06d}"


def qr_modules(data_uri: str) -> set[tuple[int, int]]:
    """The dark modules (row, column) of a segno SVG QR code, read back from its path."""
    prefix = "data:image/svg+xml;base64,"
    assert data_uri.startswith(prefix), data_uri[:40]
    svg = ElementTree.fromstring(base64.b64decode(data_uri[len(prefix) :]))
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    path = svg.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for command, first, second in re.findall(
        r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.get("d", "")
    ):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        else:  # a horizontal run of dark modules on row y
            dark.update((int(y), int(x) + i) for i in range(int(float(first))))
            x += float(first)
    border = min(column for _, column in dark)  # the finder pattern starts at the border
    return {(row - border, column - border) for row, column in dark}


def encodes(data_uri: str, text: str) -> bool:
    """Whether the QR code holds exactly `text` (at any error correction level)."""
    modules = qr_modules(data_uri)
    for level in "lmqh":
        matrix = segno.make(text, error=level, micro=False).matrix
        expected = {(r, c) for r, row in enumerate(matrix) for c, bit in enumerate(row) if bit}
        if expected == modules:
            return True
    return False


def user_row(engine: Engine, user_id: str) -> User:
    """The user's row as stored."""
    with Session(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        return user


def events(engine: Engine, user_id: str, kind: str) -> list[SecurityEvent]:
    """The security events of one kind about a user, oldest first."""
    with Session(engine) as session:
        rows = session.exec(
            select(SecurityEvent)
            .where(col(SecurityEvent.subject) == f"user:{user_id}", col(SecurityEvent.kind) == kind)
            .order_by(col(SecurityEvent.id))
        )
        return list(rows)


async def enrol(http: httpx.AsyncClient, headers: dict[str, str]) -> tuple[pyotp.TOTP, list[str]]:
    """Turn MFA on for the bearer: the app's TOTP and the recovery codes."""
    started = await http.post(TOTP, headers=headers)
    assert started.status_code == 200, started.text
    totp = pyotp.TOTP(started.json()["secret"])
    confirmed = await http.post(CONFIRM, json={"code": code(totp)}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    codes: list[str] = confirmed.json()["recovery_codes"]
    return totp, codes


async def mfa_user(http: httpx.AsyncClient) -> tuple[str, str, pyotp.TOTP, list[str]]:
    """A new user with MFA on: id, e-mail, TOTP, recovery codes."""
    user_id, email = await new_user(http)
    pair = (await password_login(http, email)).json()
    totp, codes = await enrol(http, bearer(pair["access_token"]))
    return user_id, email, totp, codes


async def challenge(http: httpx.AsyncClient, email: str) -> str:
    """The challenge a password login of an MFA user answers with (and no tokens)."""
    response = await password_login(http, email)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["mfa_required"] is True and body["mfa_enrollment_required"] is False
    assert body["expires_in"] == 300
    assert "access_token" not in body and "refresh_token" not in body
    assert body["challenge"]
    return str(body["challenge"])


def assert_refused(response: httpx.Response, status: int, words: str = "") -> None:
    """A problem+json refusal of this status, its detail containing `words`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert words in response.json()["detail"]
    assert "access_token" not in response.text


# ---- enrolment and login ---------------------------------------------------------------------


async def test_enrol_then_login_needs_a_code_once(http: httpx.AsyncClient, engine: Engine) -> None:
    user_id, email = await new_user(http)
    pair = (await password_login(http, email)).json()
    headers = bearer(pair["access_token"])
    assert (await http.get(ME, headers=headers)).json()["mfa_enabled"] is False

    started = await http.post(TOTP, headers=headers)
    assert started.status_code == 200, started.text
    assert started.headers["cache-control"] == "no-store"
    shown = started.json()
    secret = shown["secret"]
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert shown["otpauth_uri"].startswith("otpauth://totp/Signoff:")
    assert f"secret={secret}" in shown["otpauth_uri"] and "issuer=Signoff" in shown["otpauth_uri"]
    assert encodes(shown["qr_svg"], shown["otpauth_uri"])
    pending = user_row(engine, user_id)
    assert pending.totp_pending_secret is not None
    assert pending.totp_pending_secret.startswith("enc:v1:")
    assert secret not in pending.totp_pending_secret and not pending.mfa_enabled
    totp = pyotp.TOTP(secret)
    later: list[httpx.Response] = []  # every answer after the one that showed the secret

    mismatch = await http.post(CONFIRM, json={"code": wrong(totp)}, headers=headers)
    later.append(mismatch)
    assert_refused(mismatch, 422, "does not match")
    assert not user_row(engine, user_id).mfa_enabled
    confirmed = await http.post(CONFIRM, json={"code": code(totp)}, headers=headers)
    later.append(confirmed)
    assert confirmed.status_code == 200, confirmed.text
    recovery = confirmed.json()["recovery_codes"]
    assert len(recovery) == 10 == len(set(recovery)) and confirmed.json()["tokens"] is None
    assert confirmed.headers["cache-control"] == "no-store"

    stored = user_row(engine, user_id)
    assert stored.mfa_enabled and stored.totp_pending_secret is None
    assert stored.totp_secret is not None and stored.totp_secret.startswith("enc:v1:")
    assert secret not in stored.totp_secret
    with Session(engine) as session:
        hashes = session.exec(
            select(RecoveryCode.code_hash).where(col(RecoveryCode.user_id) == user_id)
        ).all()
    assert len(hashes) == 10 and not set(hashes) & set(recovery)
    assert not any(c.replace("-", "") in h for c in recovery for h in hashes)
    enrolled = events(engine, user_id, "mfa_enrolled")
    assert len(enrolled) == 1 and enrolled[0].ip == "127.0.0.1"

    me = await http.get(ME, headers=headers)
    later.append(me)
    assert me.json()["mfa_enabled"] is True
    again = await http.post(TOTP, headers=headers)
    later.append(again)
    assert_refused(again, 409, "already")

    first = await challenge(http, email)
    later.append(await http.get(ME, headers=bearer(first)))
    assert_refused(later[-1], 401)  # a challenge is no access token
    # The confirming code has been used; the next step's code is the next one that works.
    next_code = code(totp, 1)
    granted = await http.post(MFA_LOGIN, json={"challenge": first, "code": next_code})
    later.append(granted)
    assert granted.status_code == 200, granted.text
    assert (await http.get(ME, headers=bearer(granted.json()["access_token"]))).status_code == 200

    replayed = await http.post(
        MFA_LOGIN, json={"challenge": await challenge(http, email), "code": next_code}
    )
    later.append(replayed)
    assert_refused(replayed, 401, "already used")
    assert [e.detail for e in events(engine, user_id, "mfa_challenge_failed")] == [
        {"purpose": "login", "method": "totp"}
    ]
    succeeded = events(engine, user_id, "login_succeeded")
    assert succeeded[-1].detail == {"mfa": "totp"} and succeeded[-1].ip == "127.0.0.1"

    admin = await as_user(http, "admin@acme.test")
    listed = await http.get("/api/v1/users", params={"limit": 200}, headers=admin)
    later.append(listed)
    assert any(u["id"] == user_id and u["mfa_enabled"] for u in listed.json()["items"])
    for response in later:
        assert secret not in response.text, response.request.url


async def test_login_without_mfa_still_gives_tokens(http: httpx.AsyncClient) -> None:
    _, email = await new_user(http)
    response = await password_login(http, email)
    assert response.status_code == 200, response.text
    assert response.json()["access_token"] and "mfa_required" not in response.json()


async def test_the_second_step_refuses_what_is_not_a_challenge(http: httpx.AsyncClient) -> None:
    _, email, totp, _ = await mfa_user(http)
    access = (await password_login(http, (await new_user(http))[1])).json()["access_token"]
    for token in ("not-a-token", access):
        refused = await http.post(MFA_LOGIN, json={"challenge": token, "code": code(totp, 1)})
        assert_refused(refused, 401, "invalid challenge")
    both = await http.post(
        MFA_LOGIN,
        json={"challenge": await challenge(http, email), "code": "1", "recovery_code": "x"},
    )
    assert both.status_code == 422, both.text
    neither = await http.post(MFA_LOGIN, json={"challenge": await challenge(http, email)})
    assert neither.status_code == 422, neither.text


async def test_wrong_codes_count_toward_the_lockout(
    http: httpx.AsyncClient, engine: Engine
) -> None:
    user_id, email, totp, _ = await mfa_user(http)
    for _ in range(4):  # the limit is 5; a right password in between resets nothing
        refused = await http.post(
            MFA_LOGIN, json={"challenge": await challenge(http, email), "code": wrong(totp)}
        )
        assert_refused(refused, 401, "wrong")
    assert user_row(engine, user_id).failed_logins == 4
    last = await http.post(
        MFA_LOGIN, json={"challenge": await challenge(http, email), "code": wrong(totp)}
    )
    assert_refused(last, 401)
    locked = await password_login(http, email)
    assert_refused(locked, 429, "too many failed logins")
    assert len(events(engine, user_id, "mfa_challenge_failed")) == 5
    lock = events(engine, user_id, "login_locked")
    assert len(lock) == 1 and lock[0].ip == "127.0.0.1"


async def test_a_recovery_code_works_once(http: httpx.AsyncClient, engine: Engine) -> None:
    user_id, email, _, codes = await mfa_user(http)
    first = await http.post(
        MFA_LOGIN, json={"challenge": await challenge(http, email), "recovery_code": codes[0]}
    )
    assert first.status_code == 200, first.text
    assert first.json()["access_token"]
    again = await http.post(
        MFA_LOGIN, json={"challenge": await challenge(http, email), "recovery_code": codes[0]}
    )
    assert_refused(again, 401, "recovery code")
    # Typed without dashes and in capitals it is the same code.
    retyped = codes[1].replace("-", "").upper()
    second = await http.post(
        MFA_LOGIN, json={"challenge": await challenge(http, email), "recovery_code": retyped}
    )
    assert second.status_code == 200, second.text
    used = events(engine, user_id, "recovery_code_used")
    assert [e.detail["remaining"] for e in used] == [9, 8]
    with Session(engine) as session:
        spent = session.exec(
            select(RecoveryCode).where(
                col(RecoveryCode.user_id) == user_id, col(RecoveryCode.used_at).is_not(None)
            )
        ).all()
    assert len(spent) == 2


async def test_new_recovery_codes_replace_the_old_ones(http: httpx.AsyncClient) -> None:
    _, email, totp, old = await mfa_user(http)
    pair = await http.post(
        MFA_LOGIN, json={"challenge": await challenge(http, email), "recovery_code": old[0]}
    )
    headers = bearer(pair.json()["access_token"])
    assert_refused(await http.post(RECOVERY, json={"code": wrong(totp)}, headers=headers), 403)
    fresh = await http.post(RECOVERY, json={"code": code(totp, 1)}, headers=headers)
    assert fresh.status_code == 200, fresh.text
    new = fresh.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    stale = await http.post(
        MFA_LOGIN, json={"challenge": await challenge(http, email), "recovery_code": old[1]}
    )
    assert_refused(stale, 401)
    works = await http.post(
        MFA_LOGIN, json={"challenge": await challenge(http, email), "recovery_code": new[0]}
    )
    assert works.status_code == 200, works.text


async def test_turning_mfa_off_needs_a_code(http: httpx.AsyncClient, engine: Engine) -> None:
    user_id, email, totp, codes = await mfa_user(http)
    pair = await http.post(
        MFA_LOGIN, json={"challenge": await challenge(http, email), "code": code(totp, 1)}
    )
    headers = bearer(pair.json()["access_token"])
    refused = await http.request("DELETE", MFA, json={"code": wrong(totp)}, headers=headers)
    assert_refused(refused, 403, "wrong")
    assert user_row(engine, user_id).mfa_enabled
    body = {"recovery_code": codes[0], "reason": "new phone"}
    off = await http.request("DELETE", MFA, json=body, headers=headers)
    assert off.status_code == 204, off.text
    stored = user_row(engine, user_id)
    assert not stored.mfa_enabled and stored.totp_secret is None
    disabled = events(engine, user_id, "mfa_disabled")
    assert len(disabled) == 1 and disabled[0].reason == "new phone"
    assert disabled[0].ip == "127.0.0.1" and disabled[0].actor == user_id
    assert (await password_login(http, email)).json()["access_token"]
    assert (await http.get(ME, headers=headers)).json()["mfa_enabled"] is False
    assert_refused(await http.request("DELETE", MFA, json=body, headers=headers), 409)


async def test_operator_resets_a_lost_device(
    http: httpx.AsyncClient, engine: Engine, stack: Stack
) -> None:
    user_id, email, _, _ = await mfa_user(http)
    signoff = installed_binary("signoff")
    assert signoff
    command = [signoff, "users", "reset-mfa", email.upper(), "--reason", "phone lost, ticket 42"]
    done = subprocess.run(command, env=stack.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert user_id in done.stdout
    assert (await password_login(http, email)).json()["access_token"]
    reset = events(engine, user_id, "mfa_disabled")
    assert len(reset) == 1 and reset[0].reason == "phone lost, ticket 42"
    assert reset[0].actor.startswith("cli:")
    unknown = [signoff, "users", "reset-mfa", "nobody@acme.test", "--reason", "x"]
    missing = subprocess.run(unknown, env=stack.env, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "no user" in missing.stderr


async def test_logins_are_security_events(http: httpx.AsyncClient, engine: Engine) -> None:
    user_id, email = await new_user(http)
    assert (await password_login(http, email)).status_code == 200
    failed = await http.post(TOKEN, json={"email": email, "password": "not-the-password"})
    assert_refused(failed, 401)
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@acme.test"
    assert_refused(await http.post(TOKEN, json={"email": ghost, "password": "x"}), 401)
    succeeded = events(engine, user_id, "login_succeeded")
    assert len(succeeded) == 1 and succeeded[0].ip == "127.0.0.1"
    assert succeeded[0].actor == user_id and succeeded[0].org_id == "acme"
    wrong_password = events(engine, user_id, "login_failed")
    assert [e.detail["reason"] for e in wrong_password] == ["wrong_password"]
    with Session(engine) as session:
        unknown = session.exec(
            select(SecurityEvent).where(
                col(SecurityEvent.kind) == "login_failed", col(SecurityEvent.actor) == ghost
            )
        ).all()
    assert len(unknown) == 1 and unknown[0].org_id is None
    assert unknown[0].detail["reason"] == "unknown_email" and unknown[0].ip == "127.0.0.1"
