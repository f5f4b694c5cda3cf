"""Security events caused by an administrator's act through the API."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import Principal
from store.security_events import record_security_event


def record_admin_event(
    session: AsyncSession,
    admin: Principal,
    kind: str,
    *,
    ip: str | None,
    subject: str,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add a security event by `admin` in their org to the session (committed with the act)."""
    record_security_event(
        session,
        kind=kind,
        org_id=admin.org_id,
        actor=admin.user_id,
        ip=ip,
        subject=subject,
        reason=reason,
        detail=detail,
    )
