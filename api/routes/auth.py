"""Login, token refresh with rotation and reuse detection, and the caller's identity."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlmodel import col, select, update
from starlette.concurrency import run_in_threadpool

from api.deps import ContextDep, CurrentUser, SessionDep
from api.problems import Problem
from api.security import InvalidToken, verify_password
from schemas.auth import LoginInput, Me, RefreshInput, TokenPair
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


async def _issue_pair(
    context: ContextDep, session: SessionDep, user: User, family: str
) -> TokenPair:
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


@router.post(
    "/auth/token",
    response_model=TokenPair,
    openapi_extra=_LOGIN_BODY,
    responses={401: {"description": "Wrong e-mail or password"}, 429: {"description": "Locked"}},
)
async def login(request: Request, context: ContextDep, session: SessionDep) -> TokenPair:
    """E-mail and password (JSON, or the OAuth2 form) for an access and a refresh token."""
    credentials = await _login_input(request)
    settings = context.settings
    found = await session.exec(select(User).where(col(User.email) == credentials.email.lower()))
    user = found.first()
    now = datetime.now(UTC)
    if user is not None and user.locked_until is not None and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        raise Problem(
            429,
            f"too many failed logins; try again in {wait // 60 + 1} minutes",
            headers={"Retry-After": str(wait)},
        )
    hashed = user.password_hash if user is not None else None
    if not await run_in_threadpool(verify_password, credentials.password, hashed) or (
        user is not None and not user.active
    ):
        if user is not None:
            await _count_failure(
                session, user, now, settings.login_max_failures, settings.login_lockout_minutes
            )
        raise _unauthorized("wrong e-mail or password")
    assert user is not None
    user.failed_logins, user.locked_until = 0, None
    session.add(user)
    return await _issue_pair(context, session, user, uuid.uuid4().hex)


async def _count_failure(
    session: SessionDep, user: User, now: datetime, limit: int, lockout_minutes: int
) -> None:
    # Counted in SQL, not from the row read before the (slow) password check: parallel
    # guesses must each count.
    counted = await session.exec(
        update(User)
        .where(col(User.id) == user.id)
        .values(failed_logins=col(User.failed_logins) + 1)
        .returning(col(User.failed_logins))
    )
    if counted.scalar_one() >= limit:
        await session.exec(
            update(User)
            .where(col(User.id) == user.id)
            .values(failed_logins=0, locked_until=now + timedelta(minutes=lockout_minutes))
        )
    await session.commit()


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
    return await _issue_pair(context, session, user, row.family_id)


@router.get("/me", response_model=Me)
async def me(user: CurrentUser) -> Me:
    """The caller: id, org and roles."""
    return Me(
        id=user.user_id,
        org_id=user.org_id,
        email=user.email,
        name=user.name,
        roles=list(user.roles),
    )
