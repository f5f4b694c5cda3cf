"""The org's users and their roles (ADMIN only); each change is a security event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from starlette.concurrency import run_in_threadpool

from api.admin_audit import record_admin_event
from api.deps import AdminUser, ClientIp, SessionDep
from api.problems import conflict, not_found
from api.security import hash_password
from schemas.auth import UserCreate, UserOut, UserPage, UserUpdate
from store.tables import User

router = APIRouter(tags=["users"])


def _out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(
    body: UserCreate, admin: AdminUser, session: SessionDep, ip: ClientIp
) -> UserOut:
    """Add a user to the caller's org (an optional `reason` goes to the audit trail)."""
    hashed = await run_in_threadpool(hash_password, body.password) if body.password else None
    user = User(
        id=f"usr-{uuid.uuid4().hex[:16]}",
        org_id=admin.org_id,
        email=body.email.lower(),
        name=body.name,
        roles=body.roles,
        password_hash=hashed,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    record_admin_event(
        session,
        admin,
        "user_created",
        ip=ip,
        subject=f"user:{user.id}",
        reason=body.reason,
        detail={"email": user.email, "roles": list(user.roles)},
    )
    try:
        await session.commit()
    except IntegrityError:
        raise conflict(f"a user with the e-mail {body.email} exists already") from None
    return _out(user)


@router.get("/users", response_model=UserPage)
async def list_users(
    admin: AdminUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> UserPage:
    """The org's users, by e-mail."""
    scoped = select(User).where(col(User.org_id) == admin.org_id)
    total = (await session.exec(select(func.count()).select_from(scoped.subquery()))).one()
    rows = await session.exec(scoped.order_by(col(User.email)).limit(limit).offset(offset))
    return UserPage(items=[_out(u) for u in rows], total=total, limit=limit, offset=offset)


@router.patch("/users/{user_id}", response_model=UserOut)
async def update_user(
    user_id: str, body: UserUpdate, admin: AdminUser, session: SessionDep, ip: ClientIp
) -> UserOut:
    """Change a user's name, roles, active flag or password (`reason` goes to the audit trail)."""
    user = await session.get(User, user_id)
    if user is None or user.org_id != admin.org_id:
        raise not_found("user")
    target = user.id

    def audit(kind: str, detail: dict[str, Any]) -> None:
        record_admin_event(
            session, admin, kind, ip=ip, subject=f"user:{target}", reason=body.reason, detail=detail
        )

    if body.name is not None:
        user.name = body.name
    if body.roles is not None:
        if user.id == admin.user_id and "ADMIN" not in body.roles:
            raise conflict("you cannot take the ADMIN role from yourself")
        if body.roles != list(user.roles):
            audit("role_changed", {"from": list(user.roles), "to": body.roles})
        user.roles = body.roles
    if body.active is not None:
        if user.id == admin.user_id and not body.active:
            raise conflict("you cannot deactivate yourself")
        if user.active and not body.active:
            audit("user_deactivated", {})
        user.active = body.active
    if body.password is not None:
        user.password_hash = await run_in_threadpool(hash_password, body.password)
        user.failed_logins, user.locked_until = 0, None
        audit("secret_changed", {"what": "password"})
    session.add(user)
    await session.commit()
    return _out(user)
