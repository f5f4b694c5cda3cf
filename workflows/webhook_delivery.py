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


_BACKOFF = 2.0


@workflow.defn(name="WebhookDeliveryWorkflow")
class WebhookDeliveryWorkflow:
    """Delivers a stored webhook delivery; the attempts are the activity's retries."""

    @workflow.run
    async def run(self, inp: WebhookDeliveryInput) -> WebhookDeliveryResult:
        """Send until the receiver answers 2xx, or record a dead letter after the last try."""
        remaining = inp.max_attempts - inp.attempts_made
        if inp.gone or remaining <= 0:
            return await self._dead(inp.delivery_id, inp.last_error or "no attempts left")
        if inp.attempts_made:
            # Keep the backoff the attempts made before this workflow would have had.
            await workflow.sleep(_backoff(inp.first_retry_seconds, inp.attempts_made - 1))
        policy = RetryPolicy(
            initial_interval=_backoff(inp.first_retry_seconds, inp.attempts_made),
            backoff_coefficient=_BACKOFF,
            maximum_interval=timedelta(hours=1),
            maximum_attempts=remaining,
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
            return await self._dead(inp.delivery_id, reason)
        return WebhookDeliveryResult(delivery_id=inp.delivery_id, status="delivered")

    async def _dead(self, delivery_id: str, reason: str) -> WebhookDeliveryResult:
        await workflow.execute_activity_method(
            WebhookActivities.record_dead_letter,
            DeadLetterInput(delivery_id=delivery_id, reason=reason),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)),
        )
        return WebhookDeliveryResult(delivery_id=delivery_id, status="dead", reason=reason)


def _backoff(first_retry_seconds: float, retries_before: int) -> timedelta:
    """The wait before a retry that follows `retries_before` earlier retries."""
    return timedelta(seconds=first_retry_seconds * _BACKOFF**retries_before)
