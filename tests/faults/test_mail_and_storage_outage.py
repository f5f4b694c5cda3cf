"""The mail relay down while notifications go out: the notification activity retries with
backoff, the request carries on, and every e-mail arrives once the relay is back, exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.api.conftest import free_port, stack_env, start_stack
from tests.api.notify_fixtures import create_org, mail, request_state, start_request, wait_until
from tests.api.smtp_catcher import Catcher, smtp_env

pytestmark = pytest.mark.faults


async def _notifying(client: Client, request_id: str) -> list[PendingActivityInfo]:
    described = await client.get_workflow_handle(request_id).describe()
    return [
        pending
        for pending in described.raw_description.pending_activities
        if pending.activity_type.name == "deliver_notifications"
    ]


@pytest.mark.timeout(240)
async def test_mail_waits_out_an_smtp_outage_and_arrives_once(
    dev_env: WorkflowEnvironment, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    catcher = Catcher(host="127.0.0.1", port=free_port())  # not listening yet: the relay is down
    stack = start_stack(stack_env(dev_env, database_url, tmp_path, **smtp_env(catcher)), tmp_path)
    org = create_org(engine)
    controller = Controller(catcher, hostname=catcher.host, port=catcher.port)
    try:
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
            request_id = await start_request(http, org, "slow", "Chair")
            # The request itself is not held back by the relay.
            assert (await request_state(http, org, request_id))["status"] == "IN_PROGRESS"

            async def retried() -> list[PendingActivityInfo]:
                pending = await _notifying(dev_env.client, request_id)
                return [p for p in pending if p.attempt >= 3]

            (pending,) = await wait_until(retried, "the notification activity retrying", 60)
            assert "connect" in pending.last_failure.message.lower(), pending.last_failure
            assert catcher.to(org.ann.email) == []

            controller.start()  # the relay is back on the same port
            await mail(catcher, org.ann, "", seconds=90)

            async def settled() -> bool:
                return not await _notifying(dev_env.client, request_id)

            await wait_until(settled, "the notification activity to finish", 60)
        ids = Counter(str(message["Message-ID"]) for message in catcher.messages)
        assert ids and max(ids.values()) == 1, f"an e-mail was sent twice: {ids}"
        assert len(catcher.to(org.ann.email)) == 1
    finally:
        stack.stop()
        if controller.loop.is_running():
            controller.stop()
