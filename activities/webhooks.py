"""Webhook delivery attempts, signed as API.md says, and the dead-letter record."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import col, update
from temporalio import activity
from temporalio.exceptions import ApplicationError

from clients.webhook_sender import WebhookSender
from schemas.notifications import (
    DeadLetterInput,
    DeadLetterOutput,
    SendWebhookInput,
    SendWebhookOutput,
)
from store.db import transaction
from store.tables import WebhookDelivery


class WebhookActivities:
    """Retries of webhook deliveries and their dead letters; the sender is injected."""

    def __init__(self, engine: Engine, sender: WebhookSender) -> None:
        """Keep the engine and the sender."""
        self.engine = engine
        self.sender = sender

    @activity.defn(name="send_webhook")
    async def send_webhook(self, inp: SendWebhookInput) -> SendWebhookOutput:
        """One signed POST; a non-2xx answer or a network error fails this attempt."""
        attempt = await self.sender.attempt(inp.delivery_id, inp.timeout_seconds)
        if attempt.outcome == "gone":
            raise ApplicationError(attempt.detail, type="WebhookGone")
        if attempt.outcome == "failed":
            raise ApplicationError(attempt.detail)
        return SendWebhookOutput(status_code=attempt.status_code)

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
