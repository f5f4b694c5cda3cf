"""The one notification activity: every event fans out to inbox, e-mail and webhooks.

Retried calls never send twice: inbox entries are keyed by event and recipient, e-mails are
recorded as sent per event and recipient (a resend after a crash mid-send carries the same
Message-ID), webhook deliveries are keyed by event and webhook and run as workflows whose
ids are those keys.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client

from activities.heartbeat import heartbeating
from clients.mail import Mailer
from clients.webhook_sender import Attempt, WebhookSender, record
from clients.webhooks import start_webhook_delivery
from config.settings import Settings
from notify.email import Person, compose
from notify.fanout import Fanout, FanoutContext, PlannedMail, PlannedWebhook, plan_fanout
from schemas.notifications import NotifyInput, NotifyOutput, RequestNotice
from store.db import transaction
from store.notifications import (
    Contact,
    Subscription,
    add_action_tokens,
    add_inbox_entries,
    add_webhook_deliveries,
    claim_deliveries,
    contacts,
    mark_delivered,
    subscribed_webhooks,
)


class NotificationActivities:
    """Fan-out of request events; clients and secrets are injected by the worker."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        mailer: Mailer,
        sender: WebhookSender,
        temporal: Client,
        secret: bytes,
        task_queue: str,
    ) -> None:
        """Keep the clients this activity talks through."""
        self.engine = engine
        self.settings = settings
        self.mailer = mailer
        self.sender = sender
        self.temporal = temporal
        self.secret = secret
        self.task_queue = task_queue

    @activity.defn(name="deliver_notifications")
    async def deliver_notifications(self, inp: NotifyInput) -> NotifyOutput:
        """Inbox entries, e-mails and webhook deliveries for new events of a request."""
        async with heartbeating():
            return await self._deliver(inp)

    async def _deliver(self, inp: NotifyInput) -> NotifyOutput:
        # One transaction to read, one to store what is due, the sends all at once, one
        # transaction to record them: the fan-out costs the same few round trips however
        # many people and webhooks an event reaches.
        request = inp.request
        wanted = {r for e in inp.events for r in e.recipients} | {request.requester}
        wanted |= {e.actor for e in inp.events}
        people, hooks = await asyncio.to_thread(self._look_up, request.org_id, wanted)
        ctx = FanoutContext(
            people=people,
            hooks=hooks,
            secret=self.secret,
            public_url=self.settings.resolved_public_url(),
            reply_to=self.settings.reply_address,
            link_days=self.settings.action_link_days,
            now=datetime.now(UTC),
        )
        plan = plan_fanout(request, inp.events, ctx)
        inbox, due_mails, undelivered = await asyncio.to_thread(self._store, request, plan)
        names = ctx.names
        mails = [m for m in plan.mails if m.key in due_mails]
        hooks_now = [w for w in plan.webhooks if undelivered.get(w.delivery_id) == 0]
        mailed, posted = await asyncio.gather(
            asyncio.gather(
                *(self._send_mail(request, mail, names, ctx.public_url) for mail in mails),
                return_exceptions=True,
            ),
            asyncio.gather(*(self._post(webhook) for webhook in hooks_now)),
        )
        sent = [m.key for m, error in zip(mails, mailed, strict=True) if error is None]
        await asyncio.to_thread(self._finish, sent, hooks_now, posted)
        # What the first attempt did not deliver (and what an earlier try of this activity
        # attempted already) gets a workflow of its own for the retries.
        attempts = dict(zip((w.delivery_id for w in hooks_now), posted, strict=True))
        for webhook in plan.webhooks:
            attempt = attempts.get(webhook.delivery_id)
            if webhook.delivery_id not in undelivered:
                continue  # delivered by an earlier try of this activity
            if attempt is None or attempt.outcome != "delivered":
                await start_webhook_delivery(
                    self.temporal, self.settings, self.task_queue, webhook.delivery_id, attempt
                )
        failed = [error for error in mailed if isinstance(error, BaseException)]
        if failed:
            # The e-mails that went out are recorded; the retry sends only the others.
            raise failed[0]
        return NotifyOutput(inbox=inbox, emails=len(sent), webhooks=len(plan.webhooks))

    def _look_up(self, org_id: str, ids: set[str]) -> tuple[dict[str, Contact], list[Subscription]]:
        with transaction(self.engine) as session:
            return contacts(session, org_id, ids), subscribed_webhooks(session, org_id)

    def _store(self, request: RequestNotice, plan: Fanout) -> tuple[int, set[str], dict[str, int]]:
        """Inbox entries, claimed e-mails, action tokens and webhook deliveries, at once."""
        now = datetime.now(UTC)
        with transaction(self.engine) as session:
            inbox = add_inbox_entries(session, plan.inbox)
            due = claim_deliveries(
                session, plan.delivery_rows(request.org_id, request.request_id, now)
            )
            if plan.tokens:
                add_action_tokens(session, plan.tokens)
            undelivered = add_webhook_deliveries(session, [w.row for w in plan.webhooks])
        return inbox, due, undelivered

    async def _send_mail(
        self, request: RequestNotice, mail: PlannedMail, names: dict[str, str], base: str
    ) -> None:
        message = compose(
            request,
            mail.event,
            Person(mail.contact.user_id, mail.contact.email, mail.contact.name),
            names=names,
            mail_from=self.settings.mail_from,
            request_url=f"{base}/api/v1/requests/{request.request_id}",
            links=mail.links,
            reply_to=mail.reply_to,
        )
        await self.mailer.send(message)

    async def _post(self, webhook: PlannedWebhook) -> Attempt:
        row = webhook.row
        hook = webhook.hook
        target = self.sender.target(hook.webhook_id, hook.url, hook.secret)
        if isinstance(target, Attempt):
            return target
        return await self.sender.post(
            target,
            webhook.delivery_id,
            str(row["event_type"]),
            row["payload"],
            self.settings.webhook_timeout_seconds,
        )

    def _finish(
        self, sent: list[str], webhooks: list[PlannedWebhook], attempts: list[Attempt]
    ) -> None:
        with transaction(self.engine) as session:
            mark_delivered(session, sent)
            for webhook, attempt in zip(webhooks, attempts, strict=True):
                record(session, webhook.delivery_id, attempt)
