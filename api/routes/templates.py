"""Approval templates: versioned, validated against the org's users, soft-deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import AdminUser, CurrentUser, SessionDep
from api.problems import Problem, conflict, not_found
from schemas.template_api import TemplateBody, TemplateCreate, TemplateList, TemplateOut
from store.tables import Template, User

router = APIRouter(tags=["templates"])


def _out(row: Template) -> TemplateOut:
    return TemplateOut.model_validate(
        row.body
        | {
            "key": row.key,
            "version": row.version,
            "created_at": row.created_at,
            "created_by": row.created_by,
            "deleted": row.deleted_at is not None,
        }
    )


async def _check_people(session: AsyncSession, org_id: str, body: TemplateBody) -> None:
    """Every named approver is an active user of the org, and every role has a member."""
    users = (
        await session.exec(
            select(User).where(col(User.org_id) == org_id, col(User.active).is_(True))
        )
    ).all()
    known = {u.id for u in users}
    held = {role for u in users for role in u.roles}
    problems = []
    for index, level in enumerate(body.levels):
        named = level.approvers.users + level.escalation.notify + level.escalation.reassign_to
        for user_id in dict.fromkeys(named):
            if user_id not in known:
                problems.append(f"level {index + 1}: unknown approver {user_id!r}")
        role = level.approvers.role
        if role and role not in held:
            problems.append(f"level {index + 1}: no active user has the role {role!r}")
    if problems:
        raise Problem(422, "; ".join(problems))


async def _versions(session: AsyncSession, org_id: str, key: str) -> list[Template]:
    rows = await session.exec(
        select(Template)
        .where(col(Template.org_id) == org_id, col(Template.key) == key)
        .order_by(col(Template.version).desc())
    )
    return list(rows)


@router.post("/templates", response_model=TemplateOut, status_code=201)
async def create_template(
    body: TemplateCreate, admin: AdminUser, session: SessionDep
) -> TemplateOut:
    """Create a template (version 1)."""
    if await _versions(session, admin.org_id, body.key):
        raise conflict(f"template {body.key!r} exists; PUT a new version instead")
    await _check_people(session, admin.org_id, body)
    row = Template(
        org_id=admin.org_id,
        key=body.key,
        version=1,
        name=body.name,
        body=TemplateBody.model_validate(body, from_attributes=True).model_dump(mode="json"),
        created_by=admin.user_id,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.commit()
    return _out(row)


@router.get("/templates", response_model=TemplateList)
async def list_templates(user: CurrentUser, session: SessionDep) -> TemplateList:
    """The org's live templates, latest version of each."""
    latest = (
        select(Template.key, func.max(Template.version).label("version"))
        .where(col(Template.org_id) == user.org_id, col(Template.deleted_at).is_(None))
        .group_by(col(Template.key))
        .subquery()
    )
    rows = await session.exec(
        select(Template)
        .join(
            latest,
            (col(Template.key) == latest.c.key) & (col(Template.version) == latest.c.version),
        )
        .where(col(Template.org_id) == user.org_id)
        .order_by(col(Template.key))
    )
    return TemplateList(items=[_out(r) for r in rows])


@router.get("/templates/{key}", response_model=TemplateOut)
async def get_template(
    key: str,
    user: CurrentUser,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> TemplateOut:
    """The latest version of a live template, or exactly `version` (kept after deletion)."""
    versions = await _versions(session, user.org_id, key)
    if version is not None:
        row = next((r for r in versions if r.version == version), None)
    else:
        row = versions[0] if versions and versions[0].deleted_at is None else None
    if row is None:
        raise not_found("template" if version is None else f"template version {version}")
    return _out(row)


@router.put("/templates/{key}", response_model=TemplateOut)
async def new_template_version(
    key: str, body: TemplateBody, admin: AdminUser, session: SessionDep
) -> TemplateOut:
    """Save a new version; running requests keep the version they started with."""
    versions = await _versions(session, admin.org_id, key)
    if not versions or versions[0].deleted_at is not None:
        raise not_found("template")
    await _check_people(session, admin.org_id, body)
    row = Template(
        org_id=admin.org_id,
        key=key,
        version=versions[0].version + 1,
        name=body.name,
        body=body.model_dump(mode="json"),
        created_by=admin.user_id,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    await session.commit()
    return _out(row)


@router.delete("/templates/{key}", status_code=204)
async def delete_template(key: str, admin: AdminUser, session: SessionDep) -> Response:
    """Soft delete: no new requests from it; running ones are unaffected."""
    versions = await _versions(session, admin.org_id, key)
    if not versions or versions[0].deleted_at is not None:
        raise not_found("template")
    now = datetime.now(UTC)
    for row in versions:
        row.deleted_at = now
        session.add(row)
    await session.commit()
    return Response(status_code=204)
