"""The org's security settings (ADMIN): whether MFA is mandatory for ADMIN and MANAGEMENT."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import col, select

from api.admin_audit import record_admin_event
from api.deps import AdminUser, ClientIp, SessionDep
from api.problems import not_found
from api.second_factor import MFA_ROLES
from schemas.mfa import OrgSettings, OrgSettingsUpdate
from store.tables import Org, User

router = APIRouter(tags=["org"])


async def _settings(session: SessionDep, org: Org) -> OrgSettings:
    # Roles are JSON, so who holds ADMIN or MANAGEMENT is decided here, not in SQL.
    rows = await session.exec(
        select(User.roles).where(
            col(User.org_id) == org.id, col(User.active), col(User.mfa_enabled).is_(False)
        )
    )
    to_enrol = sum(1 for roles in rows if MFA_ROLES & set(roles))
    return OrgSettings(mfa_required=org.mfa_required, users_to_enrol=to_enrol)


async def _org(session: SessionDep, org_id: str) -> Org:
    org = await session.get(Org, org_id)
    if org is None:
        raise not_found("org")
    return org


@router.get("/org/settings", response_model=OrgSettings)
async def read_org_settings(admin: AdminUser, session: SessionDep) -> OrgSettings:
    """The caller's org's settings and how many ADMIN/MANAGEMENT users still lack MFA."""
    return await _settings(session, await _org(session, admin.org_id))


@router.patch("/org/settings", response_model=OrgSettings)
async def update_org_settings(
    body: OrgSettingsUpdate, admin: AdminUser, session: SessionDep, ip: ClientIp
) -> OrgSettings:
    """Change the org's settings; each change is a security event with the optional reason.

    Making MFA mandatory never locks anyone out: ADMIN and MANAGEMENT users without MFA
    (the caller too) are led through enrolment at their next login."""
    org = await _org(session, admin.org_id)
    changes: dict[str, Any] = {}
    if body.mfa_required is not None and body.mfa_required != org.mfa_required:
        changes["mfa_required"] = {"from": org.mfa_required, "to": body.mfa_required}
        org.mfa_required = body.mfa_required
    if changes:
        session.add(org)
        record_admin_event(
            session,
            admin,
            "org_settings_changed",
            ip=ip,
            subject=f"org:{org.id}",
            reason=body.reason,
            detail=changes,
        )
        await session.commit()
    return await _settings(session, org)
