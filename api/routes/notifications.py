"""The caller's inbox: unread first, mark read, and a live server-sent-events stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import case, func
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ContextDep, CurrentUser, SessionDep
from api.problems import not_found
from schemas.notifications import MarkedRead, NotificationOut, NotificationPage
from store.tables import MAX_SERIAL_ID, Notification

router = APIRouter(tags=["notifications"])

_HEARTBEAT_SECONDS = 15.0


@router.get("/notifications", response_model=NotificationPage)
async def inbox(
    user: CurrentUser,
    session: SessionDep,
    unread_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> NotificationPage:
    """The caller's notifications: unread first, then newest first."""
    mine = col(Notification.recipient) == user.user_id
    query = select(Notification).where(mine)
    if unread_only:
        query = query.where(col(Notification.read_at).is_(None))
    unread_first = case((col(Notification.read_at).is_(None), 0), else_=1)
    rows = await session.exec(
        query.order_by(unread_first, col(Notification.id).desc()).limit(limit).offset(offset)
    )
    unread = (
        await session.exec(select(func.count()).where(mine, col(Notification.read_at).is_(None)))
    ).one()
    items = [NotificationOut.model_validate(r, from_attributes=True) for r in rows]
    return NotificationPage(items=items, unread=unread, limit=limit, offset=offset)


@router.post("/notifications/{notification_id}/read", response_model=NotificationOut)
async def mark_read(
    notification_id: Annotated[int, Path(ge=1, le=MAX_SERIAL_ID)],
    user: CurrentUser,
    session: SessionDep,
) -> NotificationOut:
    """Mark one notification read."""
    row = await session.get(Notification, notification_id)
    if row is None or row.recipient != user.user_id:
        raise not_found("notification")
    if row.read_at is None:
        row.read_at = datetime.now(UTC)
        session.add(row)
        await session.commit()
    return NotificationOut.model_validate(row, from_attributes=True)


@router.post("/notifications/read-all", response_model=MarkedRead)
async def mark_all_read(user: CurrentUser, session: SessionDep) -> MarkedRead:
    """Mark every unread notification of the caller read."""
    result = await session.exec(
        update(Notification)
        .where(col(Notification.recipient) == user.user_id, col(Notification.read_at).is_(None))
        .values(read_at=datetime.now(UTC))
        .returning(col(Notification.id))
    )
    marked = len(result.all())
    await session.commit()
    return MarkedRead(marked=marked)


def _frame(item: NotificationOut) -> str:
    return f"id: {item.id}\nevent: notification\ndata: {item.model_dump_json()}\n\n"


async def _missed(session: AsyncSession, user_id: str, after: int) -> list[NotificationOut]:
    rows = await session.exec(
        select(Notification)
        .where(col(Notification.recipient) == user_id, col(Notification.id) > after)
        .order_by(col(Notification.id))
        .limit(500)
    )
    return [NotificationOut.model_validate(r, from_attributes=True) for r in rows]


@router.get(
    "/notifications/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Event stream"}},
)
async def stream(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    """Server-sent events: each new notification of the caller as it happens.

    A client that reconnects with Last-Event-ID first gets what it missed.
    """
    hub = context.hub
    queue = hub.subscribe(user.user_id)
    backlog = (
        await _missed(session, user.user_id, min(int(last_event_id), MAX_SERIAL_ID))
        if last_event_id and last_event_id.isascii() and last_event_id.isdigit()
        else []
    )
    await session.close()

    async def events() -> AsyncIterator[str]:
        sent = 0
        try:
            yield ": connected\n\n"
            for item in backlog:
                sent = item.id
                yield _frame(item)
            while not await request.is_disconnected():
                with contextlib.suppress(TimeoutError):
                    item = await asyncio.wait_for(queue.get(), timeout=_HEARTBEAT_SECONDS)
                    if item.id > sent:
                        sent = item.id
                        yield _frame(item)
                    continue
                yield ": keep-alive\n\n"
        finally:
            hub.unsubscribe(user.user_id, queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
