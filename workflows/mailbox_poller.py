"""MailboxPollerWorkflow: one scheduled pass over an AP mailbox, batch after batch."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.intake import MailboxIntakeActivities
    from schemas.intake import MailboxPollerInput, MailboxPollerResult, PollMailboxInput


@workflow.defn(name="MailboxPollerWorkflow")
class MailboxPollerWorkflow:
    """Takes in new mail until the mailbox is drained (or max_batches); the mailbox's Schedule
    runs it every poll interval and never two at once."""

    @workflow.run
    async def run(self, inp: MailboxPollerInput) -> MailboxPollerResult:
        """Poll batches; an unreachable mailbox ends the pass with the error (the next
        scheduled pass tries again, and the mailbox shows the error)."""
        result = MailboxPollerResult()
        for _ in range(inp.max_batches):
            try:
                batch = await workflow.execute_activity_method(
                    MailboxIntakeActivities.poll_invoice_mailbox,
                    PollMailboxInput(mailbox_id=inp.mailbox_id),
                    start_to_close_timeout=timedelta(minutes=10),
                    heartbeat_timeout=timedelta(seconds=30),
                    retry_policy=RetryPolicy(
                        initial_interval=timedelta(seconds=2),
                        maximum_interval=timedelta(seconds=30),
                        maximum_attempts=4,
                    ),
                )
            except ActivityError as err:
                result.error = str(err.cause or err)
                break
            result.seen += batch.seen
            result.accepted += batch.accepted
            result.rejected += batch.rejected
            if not batch.more:
                break
        return result
