"""ReplyPollerWorkflow: one pass over the reply mailbox, run by a Temporal Schedule."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.replies import ReplyMailboxActivities
    from schemas.notifications import ProcessRepliesInput, ProcessRepliesOutput


@workflow.defn(name="ReplyPollerWorkflow")
class ReplyPollerWorkflow:
    """Reads the reply mailbox once; the Schedule runs it every few seconds."""

    @workflow.run
    async def run(self, inp: ProcessRepliesInput) -> ProcessRepliesOutput:
        """Apply or refuse every unhandled reply."""
        return await workflow.execute_activity_method(
            ReplyMailboxActivities.process_reply_mailbox,
            inp,
            start_to_close_timeout=timedelta(minutes=5),
            heartbeat_timeout=timedelta(minutes=1),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=5),
                maximum_interval=timedelta(minutes=1),
                maximum_attempts=3,
            ),
        )
