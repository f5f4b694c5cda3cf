"""The org's ERP connection (ADMIN): adapter, base URL, user name and a write-only secret that
is stored encrypted and only ever decrypted by the ERP adapter inside an activity."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy.exc import IntegrityError

from api.admin_audit import record_admin_event
from api.admin_secrets import record_secret_change, seal_admin_secret
from api.deps import AdminUser, ClientIp, ContextDep, SessionDep
from api.problems import Problem, conflict, not_found
from schemas.erp_connection import ErpConnectionIn, ErpConnectionOut
from store.erp_tables import ErpConnection

router = APIRouter(tags=["org"])

PATH = "/org/erp-connection"
_NONE: dict[int | str, dict[str, Any]] = {404: {"description": "The org has no ERP connection"}}
_SETTINGS = ("adapter", "base_url", "username")


def _out(row: ErpConnection) -> ErpConnectionOut:
    return ErpConnectionOut(
        adapter=row.adapter,
        base_url=row.base_url,
        username=row.username,
        has_secret=bool(row.secret),
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def _secret_required() -> Problem:
    detail = "secret: required, since the org has no ERP connection yet"
    error = {"loc": ["body", "secret"], "msg": "Field required", "type": "missing"}
    return Problem(422, detail, extra={"errors": [error]})


async def _connection(session: SessionDep, admin: AdminUser) -> ErpConnection:
    row = await session.get(ErpConnection, admin.org_id)
    if row is None:
        raise not_found("ERP connection")
    return row


@router.get(PATH, response_model=ErpConnectionOut, responses=_NONE)
async def read_erp_connection(admin: AdminUser, session: SessionDep) -> ErpConnectionOut:
    """The org's ERP connection, its secret left out."""
    return _out(await _connection(session, admin))


@router.put(
    PATH,
    response_model=ErpConnectionOut,
    responses={422: {"description": "Invalid, or no secret for a new connection"}},
)
async def put_erp_connection(
    body: ErpConnectionIn,
    admin: AdminUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> ErpConnectionOut:
    """Create or replace the org's ERP connection; without a secret the stored one stays.

    A new secret is a `secret_changed` security event; a changed adapter, base URL or user
    name (where the secret would be sent) an `org_settings_changed` one. Neither holds it."""
    row = await session.get(ErpConnection, admin.org_id)
    wanted: dict[str, Any] = {
        "adapter": body.adapter,
        "base_url": str(body.base_url),
        "username": body.username,
    }
    if row is None:
        if body.secret is None:
            raise _secret_required()
        row = ErpConnection(org_id=admin.org_id, secret="", updated_by=admin.user_id, **wanted)
        before: dict[str, Any] = dict.fromkeys(_SETTINGS)
        action = "set"
    else:
        before = {name: getattr(row, name) for name in _SETTINGS}
        action = "changed"
    changes = {
        name: {"from": before[name], "to": wanted[name]}
        for name in _SETTINGS
        if before[name] != wanted[name]
    }
    for name, value in wanted.items():
        setattr(row, name, value)
    if body.secret is not None:
        seal_admin_secret(context, session, admin, ip, row, body.secret.get_secret_value(), action)
    if changes:
        record_admin_event(
            session,
            admin,
            "org_settings_changed",
            ip=ip,
            subject=f"erp_connection:{admin.org_id}",
            detail={"erp_connection": changes},
        )
    row.updated_by = admin.user_id
    row.updated_at = datetime.now(UTC)
    session.add(row)
    try:
        await session.commit()
    except IntegrityError:  # another ADMIN created it at the same moment
        raise conflict("the ERP connection was created meanwhile; send it again") from None
    return _out(row)


@router.delete(PATH, status_code=204, responses=_NONE)
async def delete_erp_connection(admin: AdminUser, session: SessionDep, ip: ClientIp) -> Response:
    """Remove the org's ERP connection and its secret (a `secret_changed` security event)."""
    row = await _connection(session, admin)
    record_secret_change(session, admin, ip, row, "deleted")
    await session.delete(row)
    await session.commit()
    return Response(status_code=204)
