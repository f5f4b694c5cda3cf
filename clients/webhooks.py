"""Start webhook delivery workflows (from the notification activity, and for replays)."""

from __future__ import annotations

import contextlib

from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from config.settings import Settings
from schemas.notifications import WebhookDeliveryInput
from workflows.webhook_delivery import WebhookDeliveryWorkflow


async def start_webhook_delivery(
    temporal: Client, settings: Settings, task_queue: str, delivery_id: str
) -> None:
    """Start the delivery's workflow; one already started for it is left alone."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await temporal.start_workflow(
            WebhookDeliveryWorkflow.run,
            WebhookDeliveryInput(
                delivery_id=delivery_id,
                max_attempts=settings.webhook_max_attempts,
                first_retry_seconds=settings.webhook_first_retry_seconds,
                timeout_seconds=settings.webhook_timeout_seconds,
            ),
            id=f"webhook-{delivery_id}",
            task_queue=task_queue,
        )
