"""The security audit trail: logins, MFA, role changes and secret changes, beside request audits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from store.tables import User
from store.types import UtcDateTime

# What a security event may be; request decisions and overrides stay in `audit_events`.
SECURITY_EVENT_KINDS = frozenset(
    {
        "login_succeeded",
        "login_failed",
        "login_locked",
        "mfa_challenge_failed",
        "mfa_enrolled",
        "mfa_disabled",
        "recovery_code_used",
        "user_created",
        "role_changed",
        "user_deactivated",
        "secret_changed",
        "secrets_rotated",
        "org_settings_changed",
    }
)


class SecurityEvent(SQLModel, table=True):
    """One security-relevant act: who, when, from where, on what, and why."""

    __tablename__ = "security_events"

    id: int | None = Field(default=None, primary_key=True)
    org_id: str | None = Field(default=None, index=True, max_length=64)
    at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False, index=True))
    kind: str = Field(max_length=40, index=True)
    actor: str = Field(max_length=320, description="A user id, or the e-mail a login named.")
    ip: str | None = Field(default=None, max_length=64)
    subject: str | None = Field(
        default=None, max_length=200, description="What was acted on, e.g. 'user:u1'."
    )
    reason: str | None = Field(default=None, max_length=2000)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


def record_security_event(
    session: AsyncSession,
    *,
    kind: str,
    org_id: str | None,
    actor: str,
    ip: str | None,
    subject: str | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Add an event to the session (the caller commits it with the act it records)."""
    if kind not in SECURITY_EVENT_KINDS:
        raise ValueError(f"unknown security event kind {kind!r}")
    event = SecurityEvent(
        org_id=org_id,
        at=datetime.now(UTC),
        kind=kind,
        actor=actor[:320],
        ip=ip[:64] if ip else None,
        subject=subject[:200] if subject else None,
        reason=reason[:2000] if reason else None,
        detail=detail or {},
    )
    session.add(event)
    return event


def record_user_event(
    session: AsyncSession,
    user: User,
    kind: str,
    *,
    ip: str | None,
    actor: str | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> SecurityEvent:
    """Add an event about the user's own account, done by the user unless `actor` says who."""
    return record_security_event(
        session,
        kind=kind,
        org_id=user.org_id,
        actor=actor or user.id,
        ip=ip,
        subject=f"user:{user.id}",
        reason=reason,
        detail=detail,
    )
