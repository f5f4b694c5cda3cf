"""Webhook delivery attempts, signed as API.md says, and the dead-letter record."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine
from sqlmodel import col, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from config.settings import Settings
from notify.webhooks import UnsafeTarget, check_target, sign
from schemas.notifications import (
    DeadLetterInput,
    DeadLetterOutput,
    SendWebhookInput,
    SendWebhookOutput,
)
from store.db import transaction
from store.tables import Webhook, WebhookDelivery


class WebhookActivities:
    """Sends deliveries over HTTP; the HTTP client is injected by the worker."""

    def __init__(self, engine: Engine, settings: Settings, http: httpx.AsyncClient) -> None:
        """Keep the clients."""
        self.engine = engine
        self.settings = settings
        self.http = http

    def _load(self, delivery_id: str) -> tuple[WebhookDelivery, Webhook | None]:
        with transaction(self.engine) as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                raise ApplicationError(f"no delivery {delivery_id}", type="WebhookGone")
            hook = session.get(Webhook, delivery.webhook_id)
            session.expunge_all()
            return delivery, hook

    def _record(self, delivery_id: str, status: str | None, error: str | None) -> None:
        values: dict[str, object] = {
            "attempts": col(WebhookDelivery.attempts) + 1,
            "last_error": error,
        }
        if status:
            values |= {"status": status, "finished_at": datetime.now(UTC)}
        with transaction(self.engine) as session:
            session.exec(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.id) == delivery_id)
                .values(**values)
            )

    @activity.defn(name="send_webhook")
    async def send_webhook(self, inp: SendWebhookInput) -> SendWebhookOutput:
        """One signed POST; a non-2xx answer or a network error fails this attempt."""
        delivery, hook = await asyncio.to_thread(self._load, inp.delivery_id)
        if hook is None or not hook.active:
            raise ApplicationError("the webhook was deleted or deactivated", type="WebhookGone")
        try:
            await asyncio.to_thread(
                check_target, hook.url, allow_private=self.settings.webhook_allow_private
            )
        except UnsafeTarget as unsafe:
            await asyncio.to_thread(self._record, delivery.id, None, str(unsafe))
            raise ApplicationError(str(unsafe), type="WebhookGone") from None
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Signoff-Webhooks/1",
            "X-Signoff-Event": delivery.event_type,
            "X-Signoff-Delivery": delivery.id,
            "X-Signoff-Timestamp": str(timestamp),
            "X-Signoff-Signature": sign(hook.secret, timestamp, body),
        }
        try:
            response = await self.http.post(
                hook.url, content=body, headers=headers, timeout=inp.timeout_seconds
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            await asyncio.to_thread(self._record, delivery.id, None, error)
            raise ApplicationError(f"could not reach {hook.url}: {error}") from None
        if not 200 <= response.status_code < 300:
            error = f"HTTP {response.status_code}: {response.text[:300]}"
            await asyncio.to_thread(self._record, delivery.id, None, error)
            raise ApplicationError(f"{hook.url} answered {error}")
        await asyncio.to_thread(self._record, delivery.id, "delivered", None)
        return SendWebhookOutput(status_code=response.status_code)

    @activity.defn(name="record_dead_letter")
    def record_dead_letter(self, inp: DeadLetterInput) -> DeadLetterOutput:
        """Mark the delivery dead with its last error, for an ADMIN to see and replay."""
        with transaction(self.engine) as session:
            result = session.exec(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id) == inp.delivery_id,
                    col(WebhookDelivery.status) != "delivered",
                )
                .values(status="dead", last_error=inp.reason, finished_at=datetime.now(UTC))
                .returning(col(WebhookDelivery.id))
            )
            return DeadLetterOutput(recorded=result.first() is not None)
