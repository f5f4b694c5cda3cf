"""Temporal Schedules the worker keeps in place: the reply-mailbox poller and one poller per
active AP mailbox (a Temporal server that lost them, e.g. a fresh dev server, gets them back)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleOverlapPolicy,
    SchedulePolicy,
)

from clients.mailbox_schedules import put_mailbox_schedule, remove_mailbox_schedule
from clients.schedules import every, put_schedule
from config.settings import Settings
from schemas.notifications import ProcessRepliesInput
from store.invoice_tables import Mailbox
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
        spec=every(settings.reply_poll_seconds),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_reply_schedule(client: Client, settings: Settings, task_queue: str) -> None:
    """Create the poller's Schedule, or bring an existing one up to date (idempotent)."""
    if not (settings.reply_imap_host and settings.reply_address):
        return
    if await put_schedule(client, REPLY_SCHEDULE_ID, reply_schedule(settings, task_queue)):
        log.info("created the reply mailbox schedule (every %ss)", settings.reply_poll_seconds)


async def ensure_mailbox_schedules(client: Client, engine: Engine, task_queue: str) -> int:
    """A Schedule for every active AP mailbox, none for inactive ones; how many are active."""

    def read() -> list[tuple[str, int, bool]]:
        with Session(engine) as session:
            rows = session.exec(select(Mailbox.id, Mailbox.poll_seconds, Mailbox.active))
            return [(i, p, a) for i, p, a in rows]

    mailboxes = await asyncio.to_thread(read)
    for mailbox_id, poll_seconds, active in mailboxes:
        if active:
            await put_mailbox_schedule(client, mailbox_id, poll_seconds, task_queue)
        else:
            await remove_mailbox_schedule(client, mailbox_id)
    return sum(1 for *_, active in mailboxes if active)
