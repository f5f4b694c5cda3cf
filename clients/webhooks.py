"""Start webhook delivery workflows (from the notification activity, and for replays)."""

from __future__ import annotations

import contextlib

from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from clients.webhook_sender import Attempt
from config.settings import Settings
from schemas.notifications import WebhookDeliveryInput
from workflows.webhook_delivery import WebhookDeliveryWorkflow


async def start_webhook_delivery(
    temporal: Client,
    settings: Settings,
    task_queue: str,
    delivery_id: str,
    first: Attempt | None = None,
) -> None:
    """Start the delivery's workflow (after a `first` attempt that did not deliver, if made);
    one already started for it is left alone."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await temporal.start_workflow(
            WebhookDeliveryWorkflow.run,
            WebhookDeliveryInput(
                delivery_id=delivery_id,
                max_attempts=settings.webhook_max_attempts,
                first_retry_seconds=settings.webhook_first_retry_seconds,
                timeout_seconds=settings.webhook_timeout_seconds,
                attempts_made=1 if first else 0,
                last_error=first.detail if first else None,
                gone=first is not None and first.outcome == "gone",
            ),
            id=f"webhook-{delivery_id}",
            task_queue=task_queue,
            # Started from the worker's own client on its own queue: the first workflow task
            # comes back with the start, with no trip through matching.
            request_eager_start=True,
        )
