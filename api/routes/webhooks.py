"""Webhook endpoints (ADMIN): CRUD, their deliveries, and replaying a dead letter."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from sqlmodel import col, func, select
from starlette.concurrency import run_in_threadpool

from api.admin_secrets import seal_admin_secret
from api.deps import AdminUser, ClientIp, ContextDep, SessionDep
from api.problems import Problem, conflict, not_found
from clients.webhooks import start_webhook_delivery
from notify.webhooks import UnsafeTarget, check_target
from schemas.notifications import (
    WEBHOOK_EVENT_TYPES,
    WebhookCreate,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookUpdate,
)
from store.tables import Webhook, WebhookDelivery

router = APIRouter(tags=["webhooks"])


def _out(hook: Webhook, secret: str | None = None) -> WebhookOut:
    return WebhookOut(
        id=hook.id,
        url=hook.url,
        event_types=hook.event_types,
        active=hook.active,
        created_at=hook.created_at,
        secret=secret,
    )


def _event_types(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(WEBHOOK_EVENT_TYPES) - {"*"})
    if unknown:
        raise Problem(422, f"unknown event types {unknown}; known: '*' and {WEBHOOK_EVENT_TYPES}")
    return sorted(set(types))


async def _safe_url(context: ContextDep, url: str) -> str:
    try:
        await run_in_threadpool(
            check_target, url, allow_private=context.settings.webhook_allow_private
        )
    except UnsafeTarget as unsafe:
        raise Problem(422, f"this webhook URL is refused: {unsafe}") from None
    return url


def _new_secret(
    context: ContextDep,
    session: SessionDep,
    admin: AdminUser,
    ip: str | None,
    hook: Webhook,
    action: str,
) -> str:
    """A fresh signing secret, stored sealed; the event names no secret."""
    secret = secrets.token_urlsafe(32)
    seal_admin_secret(context, session, admin, ip, hook, secret, action)
    return secret


async def _hook(session: SessionDep, admin: AdminUser, webhook_id: str) -> Webhook:
    hook = await session.get(Webhook, webhook_id)
    if hook is None or hook.org_id != admin.org_id:
        raise not_found("webhook")
    return hook


@router.post("/webhooks", response_model=WebhookOut, status_code=201)
async def create_webhook(
    body: WebhookCreate,
    admin: AdminUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> WebhookOut:
    """Register an endpoint; its signing secret is in this answer and never again."""
    url = await _safe_url(context, str(body.url))
    now = datetime.now(UTC)
    hook = Webhook(
        id=f"whk-{uuid.uuid4().hex[:16]}",
        org_id=admin.org_id,
        url=url,
        event_types=_event_types(body.event_types),
        active=body.active,
        secret="",
        created_by=admin.user_id,
        created_at=now,
        updated_at=now,
    )
    secret = _new_secret(context, session, admin, ip, hook, "created")
    session.add(hook)
    await session.commit()
    return _out(hook, secret)


@router.get("/webhooks", response_model=list[WebhookOut])
async def list_webhooks(
    admin: AdminUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[WebhookOut]:
    """The org's webhooks, oldest first (secrets never shown)."""
    rows = await session.exec(
        select(Webhook)
        .where(col(Webhook.org_id) == admin.org_id)
        .order_by(col(Webhook.created_at), col(Webhook.id))
        .limit(limit)
        .offset(offset)
    )
    return [_out(h) for h in rows]


@router.get("/webhooks/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: str, admin: AdminUser, session: SessionDep) -> WebhookOut:
    """One webhook."""
    return _out(await _hook(session, admin, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookOut)
async def update_webhook(
    webhook_id: str,
    body: WebhookUpdate,
    admin: AdminUser,
    session: SessionDep,
    context: ContextDep,
) -> WebhookOut:
    """Change the URL, the event types or the active flag."""
    hook = await _hook(session, admin, webhook_id)
    if body.url is not None:
        hook.url = await _safe_url(context, str(body.url))
    if body.event_types is not None:
        hook.event_types = _event_types(body.event_types)
    if body.active is not None:
        hook.active = body.active
    hook.updated_at = datetime.now(UTC)
    session.add(hook)
    await session.commit()
    return _out(hook)


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=WebhookOut)
async def rotate_webhook_secret(
    webhook_id: str,
    admin: AdminUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> WebhookOut:
    """A new signing secret, in this answer and never again; the old one stops signing now."""
    hook = await _hook(session, admin, webhook_id)
    secret = _new_secret(context, session, admin, ip, hook, "rotated")
    hook.updated_at = datetime.now(UTC)
    session.add(hook)
    await session.commit()
    return _out(hook, secret)


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, admin: AdminUser, session: SessionDep) -> Response:
    """Remove the endpoint; pending deliveries to it end as dead letters."""
    hook = await _hook(session, admin, webhook_id)
    await session.delete(hook)
    await session.commit()
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[WebhookDeliveryOut])
async def list_deliveries(
    webhook_id: str,
    admin: AdminUser,
    session: SessionDep,
    status: Literal["pending", "delivered", "dead"] | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[WebhookDeliveryOut]:
    """Deliveries to a webhook, newest first; status=dead lists its dead letters."""
    await _hook(session, admin, webhook_id)
    query = select(WebhookDelivery).where(
        col(WebhookDelivery.webhook_id) == webhook_id,
        col(WebhookDelivery.org_id) == admin.org_id,
    )
    if status:
        query = query.where(col(WebhookDelivery.status) == status)
    rows = await session.exec(
        query.order_by(col(WebhookDelivery.created_at).desc()).limit(limit).offset(offset)
    )
    return [WebhookDeliveryOut.model_validate(d, from_attributes=True) for d in rows]


@router.post(
    "/webhooks/deliveries/{delivery_id}/replay", response_model=WebhookDeliveryOut, status_code=202
)
async def replay_delivery(
    delivery_id: str, admin: AdminUser, session: SessionDep, context: ContextDep
) -> WebhookDeliveryOut:
    """Send a dead (or any finished) delivery again, as a new delivery that points back to it."""
    original = await session.get(WebhookDelivery, delivery_id)
    if original is None or original.org_id != admin.org_id:
        raise not_found("delivery")
    if original.status == "pending":
        raise conflict("the delivery is still being attempted")
    hook = await session.get(Webhook, original.webhook_id)
    if hook is None or not hook.active:
        raise conflict("its webhook was deleted or is inactive")
    replays = (
        await session.exec(
            select(func.count()).where(col(WebhookDelivery.replay_of) == original.id)
        )
    ).one()
    replay = WebhookDelivery(
        id=f"{original.id}.replay{replays + 1}",
        org_id=original.org_id,
        webhook_id=original.webhook_id,
        event_type=original.event_type,
        payload=original.payload,
        status="pending",
        replay_of=original.id,
        created_at=datetime.now(UTC),
    )
    session.add(replay)
    await session.commit()
    await start_webhook_delivery(
        context.temporal, context.settings, context.settings.task_queue, replay.id
    )
    return WebhookDeliveryOut.model_validate(replay, from_attributes=True)
