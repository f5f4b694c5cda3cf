"""WebhookDeliveryWorkflow: one event to one endpoint, retried with backoff, then dead-lettered."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from schemas.notifications import (
        DeadLetterInput,
        SendWebhookInput,
        WebhookDeliveryInput,
        WebhookDeliveryResult,
    )


@workflow.defn(name="WebhookDeliveryWorkflow")
class WebhookDeliveryWorkflow:
    """Delivers a stored webhook delivery; the attempts are the activity's retries."""

    @workflow.run
    async def run(self, inp: WebhookDeliveryInput) -> WebhookDeliveryResult:
        """Send until the receiver answers 2xx, or record a dead letter after the last try."""
        policy = RetryPolicy(
            initial_interval=timedelta(seconds=inp.first_retry_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(hours=1),
            maximum_attempts=inp.max_attempts,
            non_retryable_error_types=["WebhookGone"],
        )
        try:
            await workflow.execute_activity_method(
                WebhookActivities.send_webhook,
                SendWebhookInput(delivery_id=inp.delivery_id, timeout_seconds=inp.timeout_seconds),
                start_to_close_timeout=timedelta(seconds=inp.timeout_seconds + 10),
                retry_policy=policy,
            )
        except ActivityError as failed:
            cause = failed.cause
            reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
            await workflow.execute_activity_method(
                WebhookActivities.record_dead_letter,
                DeadLetterInput(delivery_id=inp.delivery_id, reason=reason),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
            )
            return WebhookDeliveryResult(delivery_id=inp.delivery_id, status="dead", reason=reason)
        return WebhookDeliveryResult(delivery_id=inp.delivery_id, status="delivered")
