"""What one batch of request events fans out to, worked out without any I/O.

The notification activity looks up the people and webhooks, asks `plan_fanout` for the rows
to store and the messages to send, then stores everything in one transaction and sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from approvals.summary import event_subject
from notify.email import ACTIONABLE, ActionLinks
from notify.tokens import action_token, reply_address, token_hash
from schemas.approval import AuditEvent
from schemas.notifications import RequestNotice
from store.notifications import Contact, Subscription


@dataclass(frozen=True)
class PlannedMail:
    """One e-mail to send, keyed by event and recipient so it is sent once."""

    key: str
    event: AuditEvent
    contact: Contact
    links: ActionLinks | None
    reply_to: str | None


@dataclass(frozen=True)
class PlannedWebhook:
    """One webhook delivery: its stored row and where it goes."""

    row: dict[str, Any]
    hook: Subscription

    @property
    def delivery_id(self) -> str:
        """The delivery's id (request.seq.webhook)."""
        return str(self.row["id"])


@dataclass
class Fanout:
    """Rows to store and messages to send for a batch of events."""

    inbox: list[dict[str, Any]] = field(default_factory=list)
    mails: list[PlannedMail] = field(default_factory=list)
    tokens: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[PlannedWebhook] = field(default_factory=list)

    def delivery_rows(self, org_id: str, request_id: str, now: datetime) -> list[dict[str, Any]]:
        """The e-mail delivery records to claim before sending."""
        return [
            {
                "key": mail.key,
                "org_id": org_id,
                "channel": "email",
                "recipient": mail.contact.email,
                "request_id": request_id,
                "status": "sending",
                "created_at": now,
                "sent_at": None,
            }
            for mail in self.mails
        ]


@dataclass(frozen=True)
class FanoutContext:
    """What the plan needs besides the events: people, webhooks, secrets, addresses."""

    people: dict[str, Contact]
    hooks: list[Subscription]
    secret: bytes
    public_url: str
    reply_to: str | None
    link_days: int
    now: datetime

    @property
    def names(self) -> dict[str, str]:
        """Display names of the people looked up, by user id."""
        return {uid: contact.name for uid, contact in self.people.items()}


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
        # The actor's IP address is for the audit trail, not for receivers outside the org.
        "event": event.model_dump(mode="json", exclude={"recipients": True, "detail": {"ip"}}),
    }


def plan_fanout(request: RequestNotice, events: list[AuditEvent], ctx: FanoutContext) -> Fanout:
    """Inbox entries, e-mails (with action links) and webhook deliveries for `events`."""
    plan = Fanout()
    names = ctx.names
    for event in events:
        for recipient in event.recipients:
            contact = ctx.people.get(recipient)
            if contact is None:
                continue
            if "inbox" in contact.channels:
                plan.inbox.append(_inbox_row(request, event, recipient, names))
            if "email" in contact.channels:
                plan.mails.append(_mail(request, event, contact, ctx, plan.tokens))
        kind = webhook_event_type(event)
        for hook in ctx.hooks:
            if kind in hook.event_types or "*" in hook.event_types:
                plan.webhooks.append(_webhook(request, event, hook, ctx.now))
    return plan


def _inbox_row(
    request: RequestNotice, event: AuditEvent, recipient: str, names: dict[str, str]
) -> dict[str, Any]:
    return {
        "org_id": request.org_id,
        "recipient": recipient,
        "request_id": request.request_id,
        "event_seq": event.seq,
        "kind": event.kind.value,
        "subject": event_subject(event, request.title, names),
        "created_at": event.at,
        "read_at": None,
    }


def _mail(
    request: RequestNotice,
    event: AuditEvent,
    contact: Contact,
    ctx: FanoutContext,
    tokens: list[dict[str, Any]],
) -> PlannedMail:
    """The e-mail, with approve/reject links and a reply address for someone asked to decide."""
    key = f"email:{request.request_id}:{event.seq}:{contact.user_id}"
    level = request.level
    if (
        event.kind not in ACTIONABLE
        or level is None
        or event.level_id != level.level_id
        or contact.user_id not in level.approvers
    ):
        return PlannedMail(key, event, contact, None, None)
    raw = {
        action: action_token(
            ctx.secret, request.request_id, level.level_id, contact.user_id, action
        )
        for action in ("approve", "reject", "reply")
    }
    expires = ctx.now + timedelta(days=ctx.link_days)
    tokens.extend(
        {
            "token_hash": token_hash(token),
            "org_id": request.org_id,
            "request_id": request.request_id,
            "level_id": level.level_id,
            "approver": contact.user_id,
            "action": action,
            "expires_at": expires,
            "used_at": None,
            "created_at": ctx.now,
        }
        for action, token in raw.items()
    )
    links = ActionLinks(
        approve=f"{ctx.public_url}/actions/{raw['approve']}",
        reject=f"{ctx.public_url}/actions/{raw['reject']}",
    )
    reply_to = reply_address(ctx.reply_to, raw["reply"]) if ctx.reply_to else None
    return PlannedMail(key, event, contact, links, reply_to)


def _webhook(
    request: RequestNotice, event: AuditEvent, hook: Subscription, now: datetime
) -> PlannedWebhook:
    delivery_id = f"{request.request_id}.{event.seq}.{hook.webhook_id}"
    row = {
        "id": delivery_id,
        "org_id": request.org_id,
        "webhook_id": hook.webhook_id,
        "event_type": webhook_event_type(event),
        "payload": webhook_payload(request, event, delivery_id),
        "status": "pending",
        "attempts": 0,
        "last_error": None,
        "replay_of": None,
        "created_at": now,
        "finished_at": None,
    }
    return PlannedWebhook(row, hook)
