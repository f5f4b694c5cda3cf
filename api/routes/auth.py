"""Login (with a second TOTP step for MFA users), token refresh with rotation and reuse
detection, and the caller's identity. Logins are recorded as security events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlmodel import col, select, update
from starlette.concurrency import run_in_threadpool

from api.deps import ClientIp, ContextDep, CurrentUser, SessionDep
from api.problems import Problem
from api.rate_limits import RateLimiterDep
from api.second_factor import count_failure, locked_problem, must_enrol, verify_second_factor
from api.security import (
    MFA_CHALLENGE,
    MFA_ENROLMENT,
    MFA_TOKEN_SECONDS,
    InvalidToken,
    verify_password,
)
from schemas.auth import LoginInput, Me, RefreshInput, TokenPair
from schemas.mfa import MfaChallenge, MfaLoginInput
from store.security_events import record_security_event, record_user_event
from store.tables import RefreshToken, User

router = APIRouter(tags=["auth"])

_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/LoginInput"}},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["username", "password"],
                    "properties": {
                        "username": {"type": "string", "description": "The e-mail."},
                        "password": {"type": "string"},
                    },
                }
            },
        },
    }
}


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def _login_input(request: Request) -> LoginInput:
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            return LoginInput.model_validate(await request.json())
        form = await request.form()
        return LoginInput(
            email=str(form.get("username", "")), password=str(form.get("password", ""))
        )
    except (ValidationError, ValueError) as exc:
        raise Problem(422, f"an e-mail and a password are needed: {exc}") from None


async def issue_token_pair(
    context: ContextDep, session: SessionDep, user: User, family: str
) -> TokenPair:
    """An access and a refresh token for the user, committing the session with the refresh row."""
    access = context.tokens.issue_access(user.id, user.org_id, list(user.roles))
    refresh = context.tokens.issue_refresh(user.id, family)
    session.add(
        RefreshToken(
            jti=refresh.jti,
            user_id=user.id,
            family_id=family,
            expires_at=refresh.expires_at,
            created_at=datetime.now(UTC),
        )
    )
    await session.commit()
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh.token,
        expires_in=context.settings.access_token_minutes * 60,
    )


def _login_failed(
    session: SessionDep, user: User | None, email: str, ip: str | None, reason: str
) -> None:
    record_security_event(
        session,
        kind="login_failed",
        org_id=user.org_id if user is not None else None,
        actor=user.id if user is not None else email,
        ip=ip,
        subject=f"user:{user.id}" if user is not None else None,
        detail={"email": email, "reason": reason},
    )


def record_login(session: SessionDep, user: User, ip: str | None, mfa: str | None) -> None:
    """A login got through: the failure count starts again and a security event says how."""
    user.failed_logins, user.locked_until = 0, None
    session.add(user)
    record_user_event(session, user, "login_succeeded", ip=ip, detail={"mfa": mfa} if mfa else {})


@router.post(
    "/auth/token",
    response_model=TokenPair | MfaChallenge,
    openapi_extra=_LOGIN_BODY,
    responses={
        200: {
            "description": (
                "The tokens; or, for a user with MFA, `mfa_required` and a `challenge` for "
                "POST /auth/mfa; or, when the org requires MFA of a user who has none, "
                "`mfa_enrollment_required` and an `enrollment_token` for the enrolment endpoints"
            )
        },
        401: {"description": "Wrong e-mail or password"},
        429: {"description": "Locked"},
    },
)
async def login(
    request: Request,
    context: ContextDep,
    session: SessionDep,
    ip: ClientIp,
    limiter: RateLimiterDep,
) -> TokenPair | MfaChallenge:
    """E-mail and password (JSON, or the OAuth2 form): tokens, or an MFA challenge."""
    credentials = await _login_input(request)
    await limiter.enforce([limiter.login_by_email(credentials.email)])
    settings = context.settings
    email = credentials.email.lower()
    found = await session.exec(select(User).where(col(User.email) == email))
    user = found.first()
    now = datetime.now(UTC)
    if user is not None and (locked := locked_problem(user, now)) is not None:
        _login_failed(session, user, email, ip, "locked")
        await session.commit()
        raise locked
    hashed = user.password_hash if user is not None else None
    right = await run_in_threadpool(verify_password, credentials.password, hashed)
    if user is None or not right or not user.active:
        reason = "unknown_email" if user is None else "wrong_password" if not right else "inactive"
        _login_failed(session, user, email, ip, reason)
        if user is not None:
            await count_failure(session, user, settings, ip=ip, now=now)
        else:
            await session.commit()
        raise _unauthorized("wrong e-mail or password")
    if user.mfa_enabled:
        # The failure count is left as it is: a right password must not reset the
        # count of wrong codes, or codes could be guessed without end.
        challenge = context.tokens.issue_mfa(user.id, MFA_CHALLENGE)
        return MfaChallenge(challenge=challenge.token, expires_in=MFA_TOKEN_SECONDS)
    if await must_enrol(session, user):
        user.failed_logins, user.locked_until = 0, None
        session.add(user)
        await session.commit()
        enrolment = context.tokens.issue_mfa(user.id, MFA_ENROLMENT)
        return MfaChallenge(
            mfa_enrollment_required=True,
            enrollment_token=enrolment.token,
            expires_in=MFA_TOKEN_SECONDS,
        )
    record_login(session, user, ip, None)
    return await issue_token_pair(context, session, user, uuid.uuid4().hex)


@router.post(
    "/auth/mfa",
    response_model=TokenPair,
    responses={
        401: {"description": "Invalid challenge, or a wrong, replayed or used code"},
        429: {"description": "Locked"},
    },
)
async def login_second_factor(
    body: MfaLoginInput, context: ContextDep, session: SessionDep, ip: ClientIp
) -> TokenPair:
    """The login's second step: the challenge and a TOTP code (or a recovery code) for tokens.

    A TOTP code is accepted once (a later login waits for the next code); a recovery code
    works once. Wrong codes count toward the account lockout like wrong passwords."""
    try:
        claims = context.tokens.decode_mfa(body.challenge, MFA_CHALLENGE)
    except InvalidToken as exc:
        raise _unauthorized(f"invalid challenge: {exc}") from None
    user = await session.get(User, str(claims["sub"]))
    if user is None or not user.active or not user.mfa_enabled:
        raise _unauthorized("the challenge's user does not exist, is inactive or has no MFA")
    method = await verify_second_factor(
        session, context, user, body, ip=ip, purpose="login", refusal_status=401
    )
    record_login(session, user, ip, method)
    return await issue_token_pair(context, session, user, uuid.uuid4().hex)


@router.post("/auth/refresh", response_model=TokenPair, responses={401: {"description": "Refused"}})
async def refresh(body: RefreshInput, context: ContextDep, session: SessionDep) -> TokenPair:
    """Rotate a refresh token; presenting a used one revokes every token of its login."""
    try:
        claims = context.tokens.decode_refresh(body.refresh_token)
    except InvalidToken as exc:
        raise _unauthorized(f"invalid refresh token: {exc}") from None
    now = datetime.now(UTC)
    row = await session.get(RefreshToken, str(claims["jti"]))
    if row is None or row.revoked_at is not None:
        raise _unauthorized("the refresh token has been revoked")
    claimed = await session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.jti) == row.jti, col(RefreshToken.used_at).is_(None))
        .values(used_at=now)
        .returning(col(RefreshToken.jti))
    )
    if claimed.first() is None:
        # Someone presents a token that was already rotated: assume it was stolen.
        await session.exec(
            update(RefreshToken)
            .where(
                col(RefreshToken.family_id) == row.family_id, col(RefreshToken.revoked_at).is_(None)
            )
            .values(revoked_at=now)
        )
        await session.commit()
        raise _unauthorized("the refresh token was already used; this login has been revoked")
    user = await session.get(User, row.user_id)
    if user is None or not user.active:
        await session.commit()
        raise _unauthorized("the user does not exist or is inactive")
    if await must_enrol(session, user):
        # The org made MFA mandatory after this login began: the next login enrols.
        await session.commit()
        raise _unauthorized("your org requires MFA for your role: log in again to set it up")
    return await issue_token_pair(context, session, user, row.family_id)


@router.get("/me", response_model=Me)
async def me(user: CurrentUser, session: SessionDep) -> Me:
    """The caller: id, org, roles and whether MFA is on."""
    row = await session.get(User, user.user_id)
    return Me(
        id=user.user_id,
        org_id=user.org_id,
        email=user.email,
        name=user.name,
        roles=list(user.roles),
        mfa_enabled=row is not None and row.mfa_enabled,
    )
