"""A user's second factor in the database: whether it is required, checking it, the lockout."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlmodel import col, delete, or_, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from api.mfa_codes import matching_step, new_recovery_codes, recovery_code_hash
from api.problems import Problem
from config.settings import Settings
from schemas.mfa import SecondFactorProof
from store.secret_box import SecretBox
from store.secret_columns import TOTP_SECRET
from store.security_events import record_user_event
from store.tables import Org, RecoveryCode, User

if TYPE_CHECKING:
    from api.deps import AppContext

# The roles an org's `mfa_required` setting applies to.
MFA_ROLES = frozenset({"ADMIN", "MANAGEMENT"})

Method = Literal["totp", "recovery_code"]


def mfa_mandatory(org: Org | None, roles: Iterable[str]) -> bool:
    """Whether the org makes MFA mandatory for someone holding these roles."""
    return org is not None and org.mfa_required and bool(MFA_ROLES & set(roles))


async def must_enrol(session: AsyncSession, user: User) -> bool:
    """The user has no MFA but the org requires it for one of their roles."""
    return not user.mfa_enabled and mfa_mandatory(await session.get(Org, user.org_id), user.roles)


def locked_problem(user: User, now: datetime) -> Problem | None:
    """The 429 for a user locked out right now, else None."""
    if user.locked_until is None or user.locked_until <= now:
        return None
    wait = int((user.locked_until - now).total_seconds()) + 1
    return Problem(
        429,
        f"too many failed logins; try again in {wait // 60 + 1} minutes",
        headers={"Retry-After": str(wait)},
    )


async def count_failure(
    session: AsyncSession, user: User, settings: Settings, *, ip: str | None, now: datetime
) -> None:
    """Count a failed password or code toward the lockout (locking at the limit), and commit."""
    # Counted in SQL, not from the row read before the (slow) password check: parallel
    # guesses must each count.
    counted = await session.exec(
        update(User)
        .where(col(User.id) == user.id)
        .values(failed_logins=col(User.failed_logins) + 1)
        .returning(col(User.failed_logins))
    )
    if counted.scalar_one() >= settings.login_max_failures:
        until = now + timedelta(minutes=settings.login_lockout_minutes)
        await session.exec(
            update(User).where(col(User.id) == user.id).values(failed_logins=0, locked_until=until)
        )
        detail = {"until": until.isoformat(), "failures": settings.login_max_failures}
        record_user_event(session, user, "login_locked", ip=ip, detail=detail)
    await session.commit()


async def _accept_totp(session: AsyncSession, box: SecretBox, user: User, code: str) -> bool:
    if user.totp_secret is None:
        return False
    secret = box.decrypt(user.totp_secret, context=TOTP_SECRET.context(user.id))
    now = datetime.now(UTC).timestamp()
    step = matching_step(secret, code, after=user.totp_last_step, now=now)
    if step is None:
        return False
    # Claimed in SQL so that two requests racing with the same code cannot both pass.
    claimed = await session.exec(
        update(User)
        .where(
            col(User.id) == user.id,
            or_(col(User.totp_last_step).is_(None), col(User.totp_last_step) < step),
        )
        .values(totp_last_step=step)
        .returning(col(User.id))
    )
    return claimed.first() is not None


async def _accept_recovery_code(session: AsyncSession, user: User, code: str) -> bool:
    claimed = await session.exec(
        update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == user.id,
            col(RecoveryCode.code_hash) == recovery_code_hash(code),
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=datetime.now(UTC))
        .returning(col(RecoveryCode.id))
    )
    return claimed.first() is not None


async def unused_recovery_codes(session: AsyncSession, user_id: str) -> int:
    """How many of the user's recovery codes are left."""
    rows = await session.exec(
        select(RecoveryCode.id).where(
            col(RecoveryCode.user_id) == user_id, col(RecoveryCode.used_at).is_(None)
        )
    )
    return len(rows.all())


async def verify_second_factor(
    session: AsyncSession,
    context: AppContext,
    user: User,
    proof: SecondFactorProof,
    *,
    ip: str | None,
    purpose: str,
    refusal_status: int,
) -> Method:
    """How the user proved it; a wrong, replayed or used code is audited, counted and refused."""
    code, recovery_code = proof.code, proof.recovery_code
    now = datetime.now(UTC)
    locked = locked_problem(user, now)
    if locked is not None:
        raise locked
    method: Method = "totp" if code is not None else "recovery_code"
    if code is not None:
        accepted = await _accept_totp(session, context.secret_box, user, code)
    else:
        accepted = recovery_code is not None and await _accept_recovery_code(
            session, user, recovery_code
        )
    if accepted:
        if method == "recovery_code":
            remaining = await unused_recovery_codes(session, user.id)
            used = {"purpose": purpose, "remaining": remaining}
            record_user_event(session, user, "recovery_code_used", ip=ip, detail=used)
        return method
    failed = {"purpose": purpose, "method": method}
    record_user_event(session, user, "mfa_challenge_failed", ip=ip, detail=failed)
    await count_failure(session, user, context.settings, ip=ip, now=now)
    headers = {"WWW-Authenticate": "Bearer"} if refusal_status == 401 else None
    what = "code" if method == "totp" else "recovery code"
    raise Problem(refusal_status, f"the {what} is wrong, expired or already used", headers=headers)


async def replace_recovery_codes(session: AsyncSession, user_id: str) -> list[str]:
    """New recovery codes for the user (the old ones stop working); the caller commits."""
    await session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
    codes = new_recovery_codes()
    now = datetime.now(UTC)
    for code in codes:
        session.add(
            RecoveryCode(user_id=user_id, code_hash=recovery_code_hash(code), created_at=now)
        )
    return codes


async def clear_mfa(session: AsyncSession, user: User) -> None:
    """Turn the user's MFA off: no secret, no pending enrolment, no recovery codes.

    The caller records why and commits."""
    user.mfa_enabled = False
    user.totp_secret = user.totp_pending_secret = None
    user.totp_last_step = None
    session.add(user)
    await session.exec(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user.id))
