"""AP mailboxes (ADMIN): CRUD with a write-only secret, each polled by its Temporal Schedule;
and the intake log of every mail seen."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.admin_secrets import seal_admin_secret
from api.deps import AdminUser, ClientIp, ContextDep, SessionDep
from api.org_rows import PRINTABLE, owned
from clients.mailbox_schedules import poll_now, put_mailbox_schedule, remove_mailbox_schedule
from schemas.intake import ScreeningRules
from schemas.invoice_api import (
    IntakeEntryOut,
    IntakePage,
    MailboxCreate,
    MailboxOut,
    MailboxPage,
    MailboxUpdate,
)
from store.invoice_tables import IntakeEntry, Mailbox

router = APIRouter(tags=["mailboxes"])

MailboxId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def _out(row: Mailbox) -> MailboxOut:
    return MailboxOut(
        id=row.id,
        name=row.name,
        host=row.host,
        port=row.port,
        tls=row.tls,
        username=row.username,
        has_secret=bool(row.secret),
        folder=row.folder,
        poll_seconds=row.poll_seconds,
        rules=ScreeningRules.model_validate(row.rules),
        active=row.active,
        last_polled_at=row.last_polled_at,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _mailbox(session: AsyncSession, admin: AdminUser, mailbox_id: str) -> Mailbox:
    return await owned(session, Mailbox, mailbox_id, admin.org_id, "mailbox")


async def _sync_schedule(context: ContextDep, row: Mailbox) -> None:
    """The mailbox's Schedule as its row says: polling while active, gone otherwise."""
    if row.active:
        await put_mailbox_schedule(
            context.temporal, row.id, row.poll_seconds, context.settings.task_queue
        )
    else:
        await remove_mailbox_schedule(context.temporal, row.id)


@router.post("/mailboxes", response_model=MailboxOut, status_code=201)
async def create_mailbox(
    body: MailboxCreate,
    admin: AdminUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> MailboxOut:
    """Add a mailbox; an active one is polled from now on."""
    now = datetime.now(UTC)
    row = Mailbox(
        id=f"mbx-{uuid.uuid4().hex[:20]}",
        org_id=admin.org_id,
        **body.model_dump(exclude={"secret", "rules"}),
        secret="",
        rules=body.rules.model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    seal_admin_secret(context, session, admin, ip, row, body.secret.get_secret_value(), "set")
    session.add(row)
    await session.flush()
    # The Schedule first: if Temporal is down the mailbox is not saved and the caller retries.
    await _sync_schedule(context, row)
    await session.commit()
    return _out(row)


@router.get("/mailboxes", response_model=MailboxPage)
async def list_mailboxes(
    admin: AdminUser, session: SessionDep, limit: Limit = 50, offset: Offset = 0
) -> MailboxPage:
    """The org's mailboxes, secrets left out."""
    where = col(Mailbox.org_id) == admin.org_id
    total = (await session.exec(select(func.count()).select_from(Mailbox).where(where))).one()
    rows = await session.exec(
        select(Mailbox).where(where).order_by(col(Mailbox.name)).limit(limit).offset(offset)
    )
    return MailboxPage(items=[_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/mailboxes/{mailbox_id}", response_model=MailboxOut)
async def get_mailbox(mailbox_id: MailboxId, admin: AdminUser, session: SessionDep) -> MailboxOut:
    """One mailbox, with when it was last read and its last error."""
    return _out(await _mailbox(session, admin, mailbox_id))


@router.patch("/mailboxes/{mailbox_id}", response_model=MailboxOut)
async def update_mailbox(
    mailbox_id: MailboxId,
    body: MailboxUpdate,
    admin: AdminUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> MailboxOut:
    """Change settings; the Schedule follows (a deactivated mailbox is no longer polled)."""
    row = await _mailbox(session, admin, mailbox_id)
    changes = body.model_dump(exclude_unset=True, exclude={"secret", "rules"})
    for name, value in changes.items():
        if value is not None:
            setattr(row, name, value)
    if body.secret is not None:
        secret = body.secret.get_secret_value()
        seal_admin_secret(context, session, admin, ip, row, secret, "changed")
    if body.rules is not None:
        row.rules = body.rules.model_dump(mode="json")
    row.updated_at = datetime.now(UTC)
    session.add(row)
    await session.flush()
    await _sync_schedule(context, row)
    await session.commit()
    return _out(row)


@router.delete("/mailboxes/{mailbox_id}", status_code=204)
async def delete_mailbox(
    mailbox_id: MailboxId, admin: AdminUser, session: SessionDep, context: ContextDep
) -> Response:
    """Stop polling and remove the mailbox; its intake log stays."""
    row = await _mailbox(session, admin, mailbox_id)
    await remove_mailbox_schedule(context.temporal, row.id)
    await session.delete(row)
    await session.commit()
    return Response(status_code=204)


@router.post("/mailboxes/{mailbox_id}/poll", status_code=202)
async def poll_mailbox_now(
    mailbox_id: MailboxId, admin: AdminUser, session: SessionDep, context: ContextDep
) -> dict[str, str]:
    """Read the mailbox now instead of at its next interval."""
    row = await _mailbox(session, admin, mailbox_id)
    if not row.active:
        return {"status": "inactive: the mailbox is not polled"}
    await _sync_schedule(context, row)  # a Schedule lost with a reset server comes back
    await poll_now(context.temporal, row.id)
    return {"status": "polling"}


@router.get("/intake-log", response_model=IntakePage)
async def intake_log(
    admin: AdminUser,
    session: SessionDep,
    outcome: Literal["accepted", "rejected"] | None = None,
    reason_code: Annotated[str | None, Query(max_length=40, pattern=PRINTABLE)] = None,
    mailbox_id: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    invoice_id: Annotated[str | None, Query(max_length=128, pattern=PRINTABLE)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> IntakePage:
    """Every mail and upload seen, newest first: accepted with its invoice, or why not."""
    query = select(IntakeEntry).where(col(IntakeEntry.org_id) == admin.org_id)
    count = select(func.count()).select_from(IntakeEntry)
    count = count.where(col(IntakeEntry.org_id) == admin.org_id)
    for column, value in (
        (IntakeEntry.outcome, outcome),
        (IntakeEntry.reason_code, reason_code),
        (IntakeEntry.mailbox_id, mailbox_id),
        (IntakeEntry.invoice_id, invoice_id),
    ):
        if value is not None:
            query = query.where(col(column) == value)
            count = count.where(col(column) == value)
    total = (await session.exec(count)).one()
    rows = await session.exec(
        query.order_by(col(IntakeEntry.seen_at).desc(), col(IntakeEntry.id))
        .limit(limit)
        .offset(offset)
    )
    items = [IntakeEntryOut.model_validate(r, from_attributes=True) for r in rows]
    return IntakePage(items=items, total=total, limit=limit, offset=offset)
