"""One Temporal Schedule per active AP mailbox: created, updated and removed with it."""

from __future__ import annotations

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
)
from temporalio.service import RPCError, RPCStatusCode

from clients.schedules import every, put_schedule
from schemas.intake import MailboxPollerInput
from workflows.mailbox_poller import MailboxPollerWorkflow


def schedule_id(mailbox_id: str) -> str:
    """The Schedule's id for a mailbox."""
    return f"signoff-mailbox-{mailbox_id}"


def mailbox_schedule(mailbox_id: str, poll_seconds: int, task_queue: str) -> Schedule:
    """Every poll interval one pass over the mailbox; a pass still running skips the next."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            MailboxPollerWorkflow.run,
            MailboxPollerInput(mailbox_id=mailbox_id),
            id=f"{schedule_id(mailbox_id)}-pass",
            task_queue=task_queue,
        ),
        spec=every(poll_seconds),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def put_mailbox_schedule(
    client: Client, mailbox_id: str, poll_seconds: int, task_queue: str
) -> None:
    """Create the mailbox's Schedule, or bring it up to date (idempotent)."""
    await put_schedule(
        client, schedule_id(mailbox_id), mailbox_schedule(mailbox_id, poll_seconds, task_queue)
    )


async def remove_mailbox_schedule(client: Client, mailbox_id: str) -> None:
    """Delete the mailbox's Schedule; one already gone is fine."""
    try:
        await client.get_schedule_handle(schedule_id(mailbox_id)).delete()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise


async def poll_now(client: Client, mailbox_id: str) -> None:
    """Run the mailbox's pass right away (a pass already running makes this a no-op)."""
    await client.get_schedule_handle(schedule_id(mailbox_id)).trigger(
        overlap=ScheduleOverlapPolicy.SKIP
    )
