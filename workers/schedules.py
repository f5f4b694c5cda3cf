"""Temporal Schedules the worker keeps in place: the reply-mailbox poller."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from config.settings import Settings
from schemas.notifications import ProcessRepliesInput
from workflows.reply_poller import ReplyPollerWorkflow

log = logging.getLogger(__name__)

REPLY_SCHEDULE_ID = "signoff-reply-mailbox"


def reply_schedule(settings: Settings, task_queue: str) -> Schedule:
    """Every reply_poll_seconds, one pass over the reply mailbox; never two at once."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReplyPollerWorkflow.run,
            ProcessRepliesInput(),
            id=f"{REPLY_SCHEDULE_ID}-run",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=settings.reply_poll_seconds))]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_reply_schedule(client: Client, settings: Settings, task_queue: str) -> None:
    """Create the poller's Schedule, or bring an existing one up to date (idempotent)."""
    if not (settings.reply_imap_host and settings.reply_address):
        return
    schedule = reply_schedule(settings, task_queue)
    try:
        await client.create_schedule(REPLY_SCHEDULE_ID, schedule)
        log.info("created the reply mailbox schedule (every %ss)", settings.reply_poll_seconds)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(REPLY_SCHEDULE_ID).update(replace)
