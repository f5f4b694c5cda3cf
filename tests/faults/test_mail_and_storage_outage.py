"""Outages of the mail relay and of the object store.

- The SMTP relay down while notifications go out: the notification activity retries with
  backoff, the request carries on, and every e-mail arrives once the relay is back, exactly once.
- The S3 server down while an invoice mail is taken in: the intake activity retries with
  backoff, the mail stays unmarked and unlogged (nothing started, nothing dropped), and once
  the server is back the mail becomes one invoice with its files in the bucket.
"""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from config.settings import Settings
from schemas.intake import MailboxPollerInput
from store.objects import S3ObjectStore
from tests.activities.intake_setup import end_invoice_workflows, make_intake, xml_invoice
from tests.api.conftest import free_port, stack_env, start_stack
from tests.api.imap_server import Dovecot
from tests.api.imap_server import dovecot as dovecot  # noqa: F401 (fixture)
from tests.api.notify_fixtures import create_org, mail, request_state, start_request, wait_until
from tests.api.s3_server import S3Server
from tests.api.smtp_catcher import Catcher, smtp_env
from tests.intake.mails import invoice_mail
from workflows.mailbox_poller import MailboxPollerWorkflow

pytestmark = pytest.mark.faults


async def _pending(client: Client, workflow_id: str, activity: str) -> list[PendingActivityInfo]:
    described = await client.get_workflow_handle(workflow_id).describe()
    return [
        pending
        for pending in described.raw_description.pending_activities
        if pending.activity_type.name == activity
    ]


async def _notifying(client: Client, request_id: str) -> list[PendingActivityInfo]:
    return await _pending(client, request_id, "deliver_notifications")


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


@pytest.mark.timeout(240)
async def test_an_invoice_mail_waits_out_an_s3_outage_and_is_taken_in_once(
    engine: Engine,
    dovecot: Dovecot,
    dev_env: WorkflowEnvironment,
    test_settings: Settings,
    s3_server: S3Server,
) -> None:
    bucket = f"outage-{uuid.uuid4().hex[:8]}"
    store = S3ObjectStore(s3_server.client(), bucket, 60)
    store.ensure_bucket()
    intake = make_intake(engine, dovecot, dev_env.client, test_settings, objects=store)
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    poller_id = f"poller-{uuid.uuid4().hex[:8]}"
    xml = xml_invoice("S3-DOWN-1")
    intake.deliver(invoice_mail(attachments=[("inv.xml", xml, "application/xml")]))
    try:
        async with Worker(
            dev_env.client,
            task_queue=queue,
            workflows=[MailboxPollerWorkflow],
            activities=[intake.activities.poll_invoice_mailbox],
        ):
            with s3_server.outage():
                poller = await dev_env.client.start_workflow(
                    MailboxPollerWorkflow.run,
                    MailboxPollerInput(mailbox_id=intake.mailbox_id),
                    id=poller_id,
                    task_queue=queue,
                )

                async def retried() -> list[PendingActivityInfo]:
                    pending = await _pending(dev_env.client, poller_id, "poll_invoice_mailbox")
                    return [p for p in pending if p.attempt >= 2]

                (pending,) = await wait_until(retried, "the intake activity retrying", 60)
                assert pending.last_failure.message, pending
                # Nothing taken in, nothing marked, nothing logged while the store is down.
                assert intake.unmarked() != [] and intake.log() == []
            result = await poller.result()
        # The activity's later try (or, had its tries run out, the next scheduled pass: run
        # here by hand) takes the mail in once the store is back.
        if result.error:
            assert result.accepted == 0, result
            out = await intake.poll()
            assert out.accepted == 1, out
        else:
            assert (result.seen, result.accepted) == (1, 1), result
        [entry] = intake.log()
        assert entry.outcome == "accepted" and entry.invoice_id
        assert intake.unmarked() == []
        described = await dev_env.client.get_workflow_handle(entry.invoice_id).describe()
        assert described.workflow_type == "InvoiceWorkflow"
        listed = s3_server.client().list_objects_v2(
            Bucket=bucket, Prefix=f"requests/{entry.invoice_id}/documents/"
        )
        names = sorted(o["Key"].rsplit("/", 1)[1] for o in listed.get("Contents", []))
        assert names == ["inv.xml", "mail.eml", "manifest.json"]
        assert store.get(f"requests/{entry.invoice_id}/documents/inv.xml") == xml
    finally:
        await end_invoice_workflows(intake)
