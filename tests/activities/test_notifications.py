"""The notification activity on its own, against a real SMTP server, HTTP receivers, SQL and
a dev server: partial failures are retried without sending anything twice, and a webhook that
answers at once needs no retry workflow."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import Engine
from sqlmodel import col, select
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.notifications import NotificationActivities
from clients.mail import SmtpMailer
from clients.webhook_sender import WebhookSender
from config.settings import Settings
from schemas.approval import AuditEvent, EventKind
from schemas.notifications import NotifyInput, RequestNotice
from store.db import transaction
from store.tables import Delivery, Notification, Org, User, Webhook, WebhookDelivery
from store.upsert import insert_missing
from tests.api.conftest import free_port
from tests.api.smtp_catcher import Catcher
from tests.api.webhook_receiver import ALWAYS, Receiver


class RefusingCatcher(Catcher):
    """An SMTP server that answers 451 (try again later) to listed recipients, once each."""

    refuse_once: set[str]

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        """aiosmtpd's hook: refuse a listed address the first time it is seen."""
        if address in self.refuse_once:
            self.refuse_once.discard(address)
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[RefusingCatcher]:
    """A refusing SMTP server of this test's own."""
    catcher = RefusingCatcher(host="127.0.0.1", port=free_port())
    catcher.refuse_once = set()
    controller = Controller(catcher, hostname=catcher.host, port=catcher.port)
    controller.start()
    yield catcher
    controller.stop()


def _seed(engine: Engine, org: str, hooks: dict[str, str]) -> None:
    now = datetime.now(UTC)
    people = [
        {
            "id": f"{org}-{name}",
            "org_id": org,
            "email": f"{name}@{org}.test",
            "name": name.title(),
            "roles": ["USER"],
            "active": True,
            "failed_logins": 0,
            "notification_channels": ["inbox", "email"],
            "created_at": now,
        }
        for name in ("rita", "ann", "bob")
    ]
    webhooks = [
        {
            "id": hook_id,
            "org_id": org,
            "url": url,
            "event_types": ["request.commented"],
            "active": True,
            "secret": f"secret-{hook_id}",
            "created_by": f"{org}-rita",
            "created_at": now,
            "updated_at": now,
        }
        for hook_id, url in hooks.items()
    ]
    with transaction(engine) as session:
        insert_missing(
            session, Org, [{"id": org, "name": org, "calendar": {}, "created_at": now}], ["id"]
        )
        insert_missing(session, User, people, ["id"])
        insert_missing(session, Webhook, webhooks, ["id"])


def _comment(org: str) -> NotifyInput:
    request = RequestNotice(
        request_id=f"req-{org}",
        org_id=org,
        title="Standing desk",
        template_name="Purchase",
        requester=f"{org}-rita",
        priority="STANDARD",
        status="IN_PROGRESS",
        sla_state="ON_TRACK",
        timezone="Europe/Berlin",
    )
    event = AuditEvent(
        seq=7,
        at=datetime.now(UTC),
        kind=EventKind.COMMENTED,
        actor=f"{org}-rita",
        reason="Which colour?",
        recipients=[f"{org}-ann", f"{org}-bob"],
    )
    return NotifyInput(request=request, events=[event])


def _activities(
    engine: Engine,
    settings: Settings,
    http: httpx.AsyncClient,
    env: WorkflowEnvironment,
    queue: str,
) -> NotificationActivities:
    sender = WebhookSender(engine, settings, http)
    return NotificationActivities(
        engine, settings, SmtpMailer(settings), sender, env.client, b"k" * 32, queue
    )


def _settings(smtp: Catcher) -> Settings:
    return Settings(
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_starttls=False,
        webhook_allow_private=True,
        webhook_timeout_seconds=5,
    )


async def test_a_refused_email_is_retried_alone_and_nothing_is_sent_twice(
    engine: Engine, smtp: RefusingCatcher, dev_env: WorkflowEnvironment
) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    _seed(engine, org, {})
    smtp.refuse_once = {f"bob@{org}.test"}
    inp = _comment(org)
    async with httpx.AsyncClient() as http:
        activities = _activities(engine, _settings(smtp), http, dev_env, f"tq-{org}")
        with pytest.raises(Exception, match="mailbox busy"):
            await ActivityEnvironment().run(activities.deliver_notifications, inp)
        assert [len(smtp.to(f"{n}@{org}.test")) for n in ("ann", "bob")] == [1, 0]

        retried = await ActivityEnvironment().run(activities.deliver_notifications, inp)
        assert retried.emails == 1  # only bob's
        again = await ActivityEnvironment().run(activities.deliver_notifications, inp)
        assert again.emails == 0 and again.inbox == 0
    assert [len(smtp.to(f"{n}@{org}.test")) for n in ("ann", "bob")] == [1, 1]
    assert str(smtp.to(f"ann@{org}.test")[0]["Subject"]) == "Rita commented on 'Standing desk'"
    with transaction(engine) as s:
        inbox = s.exec(select(Notification).where(col(Notification.request_id) == f"req-{org}"))
        subjects = {row.subject for row in inbox.all()}
        assert subjects == {"Rita commented on 'Standing desk'"}  # a name, never a user id
        sent = [
            (d.recipient, d.status)
            for d in s.exec(select(Delivery).where(col(Delivery.request_id) == f"req-{org}"))
        ]
    assert sorted(sent) == [
        (f"ann@{org}.test", "sent"),
        (f"bob@{org}.test", "sent"),
    ]


async def test_an_answering_webhook_needs_no_workflow_a_failing_one_gets_its_retries(
    engine: Engine, smtp: RefusingCatcher, dev_env: WorkflowEnvironment
) -> None:
    org = f"org-{uuid.uuid4().hex[:8]}"
    good, bad = Receiver(name="good").start(), Receiver(failures=ALWAYS, name="bad").start()
    try:
        _seed(engine, org, {f"{org}-good": good.url, f"{org}-bad": bad.url})
        good.secret, bad.secret = f"secret-{org}-good", f"secret-{org}-bad"
        async with httpx.AsyncClient() as http:
            activities = _activities(engine, _settings(smtp), http, dev_env, f"tq-{org}")
            out = await ActivityEnvironment().run(activities.deliver_notifications, _comment(org))
            # A retried fan-out sends nothing again: the failed one is its workflow's now.
            await ActivityEnvironment().run(activities.deliver_notifications, _comment(org))
        assert out.webhooks == 2
        assert [h.answered for h in good.hits()] == [200] and good.hits()[0].signature_ok
        assert [h.answered for h in bad.hits()] == [500] and bad.hits()[0].signature_ok
    finally:
        good.stop()
        bad.stop()

    with transaction(engine) as s:
        rows = {
            d.webhook_id: (d.status, d.attempts)
            for d in s.exec(select(WebhookDelivery).where(col(WebhookDelivery.org_id) == org))
        }
    assert rows == {f"{org}-good": ("delivered", 1), f"{org}-bad": ("pending", 1)}
    client = dev_env.client
    with pytest.raises(RPCError) as missing:
        await client.get_workflow_handle(f"webhook-req-{org}.7.{org}-good").describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND
    retry = await client.get_workflow_handle(f"webhook-req-{org}.7.{org}-bad").describe()
    assert retry.workflow_type == "WebhookDeliveryWorkflow" and retry.status is not None
