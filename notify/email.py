"""Compose the e-mail for one event and one recipient, from the Jinja2 templates per event."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from approvals.summary import event_subject
from schemas.approval import AuditEvent, EventKind
from schemas.notifications import RequestNotice

_TEMPLATES = Path(__file__).parent / "templates"
_ENV = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=StrictUndefined,
    trim_blocks=False,
)
_KIND_TEMPLATE = {
    EventKind.LEVEL_STARTED: "level_started",
    EventKind.REMINDER: "reminder",
    EventKind.BREACHED: "breached",
    EventKind.ESCALATED: "escalated",
    EventKind.APPROVED: "approved",
    EventKind.COMPLETED: "completed",
    EventKind.COMMENTED: "commented",
    EventKind.REASSIGNED: "reassigned",
    EventKind.DECISION_IGNORED: "decision_ignored",
}
# Events that ask the recipient to decide carry approve/reject links.
ACTIONABLE = frozenset({EventKind.LEVEL_STARTED, EventKind.REMINDER, EventKind.ESCALATED})
_ESCALATION_WORDS = {
    "notify": "the people responsible have been told",
    "reassign": "the level goes to the escalation approvers",
    "auto_approve": "the level is approved automatically",
    "auto_reject": "the request is rejected automatically",
}


@dataclass(frozen=True)
class Person:
    """A user as an e-mail addresses them."""

    user_id: str
    email: str
    name: str


@dataclass(frozen=True)
class ActionLinks:
    """Single-use links to approve and reject."""

    approve: str
    reject: str


def local_time(instant: datetime, timezone: str) -> str:
    """An instant in the org's timezone, e.g. "Tue 24 Nov 2026 17:00 CET"."""
    return instant.astimezone(ZoneInfo(timezone)).strftime("%a %d %b %Y %H:%M %Z")


def message_id(request_id: str, seq: int, recipient: str) -> str:
    """The same Message-ID for every attempt, so a resend can be recognised as one."""
    safe = re.sub(r"[^A-Za-z0-9.-]", "-", f"{request_id}.{seq}.{recipient}")
    return f"<{safe}@signoff>"


def compose(
    request: RequestNotice,
    event: AuditEvent,
    recipient: Person,
    *,
    names: dict[str, str],
    mail_from: str,
    request_url: str,
    links: ActionLinks | None,
    reply_to: str | None,
) -> EmailMessage:
    """The HTML and plain-text e-mail about `event` for `recipient`."""
    level = request.level
    deadlines: list[tuple[str, str]] = []
    if level is not None:
        for index, due in enumerate(level.reminder_due):
            deadlines.append((f"Reminder {index + 1}", local_time(due, request.timezone)))
        if level.breach_due is not None:
            deadlines.append(("Due", local_time(level.breach_due, request.timezone)))
    threshold = event.detail.get("threshold")
    context = {
        "subject": event_subject(event, request.title, names),
        "request": request,
        "event": event,
        "recipient": recipient,
        "requester_name": names.get(request.requester, request.requester),
        "actor_name": names.get(event.actor, event.actor),
        "amount": f"{request.amount:,.2f}" if request.amount is not None else "",
        "level_name": level.name if level else (event.level_id or ""),
        "deadlines": deadlines,
        "breach_due": (
            local_time(level.breach_due, request.timezone)
            if level is not None and level.breach_due is not None
            else None
        ),
        "threshold": f"{threshold:.0%}" if isinstance(threshold, float) else "",
        "action_words": _ESCALATION_WORDS.get(
            str(event.detail.get("action", "")), "see the request"
        ),
        "links": links,
        "reply_to": reply_to,
        "request_url": request_url,
    }
    name = _KIND_TEMPLATE.get(event.kind, "generic")
    message = EmailMessage()
    message["Subject"] = context["subject"]
    message["From"] = mail_from
    message["To"] = formataddr((recipient.name, recipient.email))
    message["Message-ID"] = message_id(request.request_id, event.seq, recipient.user_id)
    message["Date"] = format_datetime(event.at)
    message["X-Signoff-Request"] = request.request_id
    message["X-Signoff-Event"] = f"request.{event.kind.value}"
    message["X-Signoff-Event-Seq"] = str(event.seq)
    if reply_to:
        message["Reply-To"] = reply_to
    message.set_content(_ENV.get_template(f"{name}.txt.j2").render(context))
    message.add_alternative(_ENV.get_template(f"{name}.html.j2").render(context), subtype="html")
    return message
