"""The org's users and their roles (ADMIN only)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from starlette.concurrency import run_in_threadpool

from api.deps import AdminUser, SessionDep
from api.problems import conflict, not_found
from api.security import hash_password
from schemas.auth import UserCreate, UserOut, UserPage, UserUpdate
from store.tables import User

router = APIRouter(tags=["users"])


def _out(user: User) -> UserOut:
    return UserOut.model_validate(user, from_attributes=True)


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(body: UserCreate, admin: AdminUser, session: SessionDep) -> UserOut:
    """Add a user to the caller's org."""
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
    user_id: str, body: UserUpdate, admin: AdminUser, session: SessionDep
) -> UserOut:
    """Change a user's name, roles, active flag or password."""
    user = await session.get(User, user_id)
    if user is None or user.org_id != admin.org_id:
        raise not_found("user")
    if body.name is not None:
        user.name = body.name
    if body.roles is not None:
        if user.id == admin.user_id and "ADMIN" not in body.roles:
            raise conflict("you cannot take the ADMIN role from yourself")
        user.roles = body.roles
    if body.active is not None:
        if user.id == admin.user_id and not body.active:
            raise conflict("you cannot deactivate yourself")
        user.active = body.active
    if body.password is not None:
        user.password_hash = await run_in_threadpool(hash_password, body.password)
        user.failed_logins, user.locked_until = 0, None
    session.add(user)
    await session.commit()
    return _out(user)
