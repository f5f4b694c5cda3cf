"""The one notification activity: every event fans out to inbox, e-mail and webhooks.

Retried calls never send twice: inbox entries are keyed by event and recipient, e-mails are
recorded as sent per event and recipient (a resend after a crash mid-send carries the same
Message-ID), webhook deliveries are keyed by event and webhook and run as workflows whose
ids are those keys.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from temporalio import activity
from temporalio.client import Client

from activities.heartbeat import heartbeating
from approvals.summary import event_subject
from clients.mail import Mailer
from clients.webhooks import start_webhook_delivery
from config.settings import Settings
from notify.email import ACTIONABLE, ActionLinks, Person, compose
from notify.tokens import action_token, reply_address, token_hash
from schemas.approval import AuditEvent
from schemas.notifications import NotifyInput, NotifyOutput, RequestNotice
from store.db import transaction
from store.notifications import (
    Contact,
    Subscription,
    add_action_tokens,
    add_inbox_entries,
    add_webhook_deliveries,
    claim_delivery,
    contacts,
    mark_delivered,
    subscribed_webhooks,
)


def webhook_event_type(event: AuditEvent) -> str:
    """The type a webhook subscribes to, e.g. request.completed."""
    return f"request.{event.kind.value}"


def webhook_payload(request: RequestNotice, event: AuditEvent, delivery_id: str) -> dict[str, Any]:
    """The JSON body a webhook receives."""
    return {
        "id": delivery_id,
        "type": webhook_event_type(event),
        "created_at": event.at.isoformat(),
        "org_id": request.org_id,
        "request": request.model_dump(mode="json", exclude={"org_id", "timezone"}),
        "event": event.model_dump(mode="json", exclude={"recipients"}),
    }


class NotificationActivities:
    """Fan-out of request events; clients and secrets are injected by the worker."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        mailer: Mailer,
        temporal: Client,
        secret: bytes,
        task_queue: str,
    ) -> None:
        """Keep the clients this activity talks through."""
        self.engine = engine
        self.settings = settings
        self.mailer = mailer
        self.temporal = temporal
        self.secret = secret
        self.task_queue = task_queue

    @activity.defn(name="deliver_notifications")
    async def deliver_notifications(self, inp: NotifyInput) -> NotifyOutput:
        """Inbox entries, e-mails and webhook deliveries for new events of a request."""
        async with heartbeating():
            return await self._deliver(inp)

    async def _deliver(self, inp: NotifyInput) -> NotifyOutput:
        request = inp.request
        wanted = {r for e in inp.events for r in e.recipients} | {request.requester}
        wanted |= {e.actor for e in inp.events}
        people = await asyncio.to_thread(self._contacts, request.org_id, wanted)
        names = {uid: c.name for uid, c in people.items()}
        output = NotifyOutput()
        output.inbox = await asyncio.to_thread(self._inbox, request, inp.events, people)
        for event in inp.events:
            for recipient in event.recipients:
                contact = people.get(recipient)
                if contact is None or "email" not in contact.channels:
                    continue
                if await self._email(request, event, contact, names):
                    output.emails += 1
        output.webhooks = await self._webhooks(request, inp.events)
        return output

    def _contacts(self, org_id: str, ids: set[str]) -> dict[str, Contact]:
        with transaction(self.engine) as session:
            return contacts(session, org_id, ids)

    def _inbox(
        self, request: RequestNotice, events: list[AuditEvent], people: dict[str, Contact]
    ) -> int:
        rows = [
            {
                "org_id": request.org_id,
                "recipient": recipient,
                "request_id": request.request_id,
                "event_seq": event.seq,
                "kind": event.kind.value,
                "subject": event_subject(event, request.title),
                "created_at": event.at,
                "read_at": None,
            }
            for event in events
            for recipient in event.recipients
            if recipient in people and "inbox" in people[recipient].channels
        ]
        with transaction(self.engine) as session:
            return add_inbox_entries(session, rows)

    async def _email(
        self,
        request: RequestNotice,
        event: AuditEvent,
        contact: Contact,
        names: dict[str, str],
    ) -> bool:
        key = f"email:{request.request_id}:{event.seq}:{contact.user_id}"
        claimed = await asyncio.to_thread(self._claim, key, request, contact)
        if not claimed:
            return False
        links, reply_to = await asyncio.to_thread(self._links, request, event, contact)
        base = self.settings.resolved_public_url()
        message = compose(
            request,
            event,
            Person(contact.user_id, contact.email, contact.name),
            names=names,
            mail_from=self.settings.mail_from,
            request_url=f"{base}/api/v1/requests/{request.request_id}",
            links=links,
            reply_to=reply_to,
        )
        await self.mailer.send(message)
        await asyncio.to_thread(self._delivered, key)
        return True

    def _claim(self, key: str, request: RequestNotice, contact: Contact) -> bool:
        with transaction(self.engine) as session:
            return claim_delivery(
                session, key, request.org_id, "email", contact.email, request.request_id
            )

    def _delivered(self, key: str) -> None:
        with transaction(self.engine) as session:
            mark_delivered(session, key)

    def _links(
        self, request: RequestNotice, event: AuditEvent, contact: Contact
    ) -> tuple[ActionLinks | None, str | None]:
        """Approve/reject links and the reply address, for someone asked to decide."""
        level = request.level
        if (
            event.kind not in ACTIONABLE
            or level is None
            or event.level_id != level.level_id
            or contact.user_id not in level.approvers
        ):
            return None, None
        now = datetime.now(UTC)
        expires = now + timedelta(days=self.settings.action_link_days)
        tokens = {
            action: action_token(
                self.secret, request.request_id, level.level_id, contact.user_id, action
            )
            for action in ("approve", "reject", "reply")
        }
        rows = [
            {
                "token_hash": token_hash(token),
                "org_id": request.org_id,
                "request_id": request.request_id,
                "level_id": level.level_id,
                "approver": contact.user_id,
                "action": action,
                "expires_at": expires,
                "used_at": None,
                "created_at": now,
            }
            for action, token in tokens.items()
        ]
        with transaction(self.engine) as session:
            add_action_tokens(session, rows)
        base = self.settings.resolved_public_url()
        links = ActionLinks(
            approve=f"{base}/actions/{tokens['approve']}",
            reject=f"{base}/actions/{tokens['reject']}",
        )
        reply_to = self.settings.reply_address
        return links, reply_address(reply_to, tokens["reply"]) if reply_to else None

    async def _webhooks(self, request: RequestNotice, events: list[AuditEvent]) -> int:
        hooks = await asyncio.to_thread(self._subscriptions, request.org_id)
        rows: list[dict[str, Any]] = []
        for event in events:
            kind = webhook_event_type(event)
            for hook in hooks:
                if kind in hook.event_types or "*" in hook.event_types:
                    delivery_id = f"{request.request_id}.{event.seq}.{hook.webhook_id}"
                    rows.append(
                        {
                            "id": delivery_id,
                            "org_id": request.org_id,
                            "webhook_id": hook.webhook_id,
                            "event_type": kind,
                            "payload": webhook_payload(request, event, delivery_id),
                            "status": "pending",
                            "attempts": 0,
                            "last_error": None,
                            "replay_of": None,
                            "created_at": datetime.now(UTC),
                            "finished_at": None,
                        }
                    )
        if not rows:
            return 0
        await asyncio.to_thread(self._store_deliveries, rows)
        for row in rows:
            await start_webhook_delivery(
                self.temporal, self.settings, self.task_queue, str(row["id"])
            )
        return len(rows)

    def _subscriptions(self, org_id: str) -> list[Subscription]:
        with transaction(self.engine) as session:
            return subscribed_webhooks(session, org_id)

    def _store_deliveries(self, rows: list[dict[str, Any]]) -> None:
        with transaction(self.engine) as session:
            add_webhook_deliveries(session, rows)
