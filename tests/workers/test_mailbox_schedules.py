"""The worker puts back a Schedule for every active AP mailbox, and none for inactive ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from clients.mailbox_schedules import put_mailbox_schedule, schedule_id
from store.db import transaction
from store.invoice_tables import Mailbox
from workers.schedules import ensure_mailbox_schedules


def _mailbox(org_id: str, active: bool) -> Mailbox:
    now = datetime.now(UTC)
    return Mailbox(
        id=f"mbx-{uuid.uuid4().hex[:12]}",
        org_id=org_id,
        name="AP",
        host="imap.example.test",
        port=993,
        username="ap",
        secret="pw",
        poll_seconds=120,
        rules={},
        active=active,
        created_at=now,
        updated_at=now,
    )


async def test_active_mailboxes_get_their_schedule_back(
    dev_env: WorkflowEnvironment, engine: Engine, task_queue: str
) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    active, inactive = _mailbox(org, True), _mailbox(org, False)
    ids = (active.id, inactive.id)
    with transaction(engine) as session:
        session.add_all([active, inactive])
    client = dev_env.client
    await put_mailbox_schedule(client, ids[1], 60, task_queue)  # left over from before
    assert await ensure_mailbox_schedules(client, engine, task_queue) >= 1
    described = await client.get_schedule_handle(schedule_id(ids[0])).describe()
    assert described.schedule.spec.intervals[0].every == timedelta(seconds=120)
    with pytest.raises(RPCError):
        await client.get_schedule_handle(schedule_id(ids[1])).describe()
    await client.get_schedule_handle(schedule_id(ids[0])).delete()
