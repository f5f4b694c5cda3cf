"""Contracts of the notification fan-out, webhook deliveries, the inbox and action links."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, HttpUrl, JsonValue, UrlConstraints

from schemas.approval import AuditEvent, EventKind

# What webhooks can subscribe to: "request.<event kind>", or "*" for all of them.
WEBHOOK_EVENT_TYPES = sorted(f"request.{kind.value}" for kind in EventKind)


class LevelNotice(BaseModel):
    """The current level as a notification shows it."""

    level_id: str
    name: str
    approvers: list[str]
    reminder_due: list[datetime] = Field(default_factory=list)
    breach_due: datetime | None = None


class RequestNotice(BaseModel):
    """What a notification says about its request."""

    request_id: str
    org_id: str
    title: str
    template_name: str
    requester: str
    amount: Decimal | None = None
    currency: str | None = None
    priority: str
    status: str
    sla_state: str
    outcome_reason: str | None = None
    timezone: str
    level: LevelNotice | None = None


class NotifyInput(BaseModel):
    """New events of one request, to fan out to inbox, e-mail and webhooks."""

    request: RequestNotice
    events: list[AuditEvent]


class NotifyOutput(BaseModel):
    """What this call did (a retry reports only what it had left to do)."""

    inbox: int = 0
    emails: int = 0
    webhooks: int = 0


class WebhookDeliveryInput(BaseModel):
    """Deliver one stored webhook delivery, retrying with backoff up to max_attempts."""

    delivery_id: str
    max_attempts: int = Field(ge=1)
    first_retry_seconds: float = Field(gt=0)
    timeout_seconds: float = Field(gt=0)
    # The notification fan-out makes the first attempt itself and starts this workflow only
    # when it failed: how many attempts were made, why the last failed, and whether retrying
    # is pointless (the webhook is gone or its target refused).
    attempts_made: int = Field(default=0, ge=0)
    last_error: str | None = None
    gone: bool = False


class WebhookDeliveryResult(BaseModel):
    """Delivered, or dead after its last attempt."""

    delivery_id: str
    status: Literal["delivered", "dead"]
    reason: str | None = None


class SendWebhookInput(BaseModel):
    """One attempt at one delivery."""

    delivery_id: str
    timeout_seconds: float


class SendWebhookOutput(BaseModel):
    """The receiver's answer; None when an earlier attempt had already delivered it."""

    status_code: int | None


class DeadLetterInput(BaseModel):
    """Record a delivery as dead with the last error."""

    delivery_id: str
    reason: str


class DeadLetterOutput(BaseModel):
    """Whether the record changed."""

    recorded: bool


# ---- API ----------------------------------------------------------------------------------


class NotificationOut(BaseModel):
    """An inbox entry."""

    id: int
    request_id: str
    event_seq: int
    kind: str
    subject: str
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    """The caller's inbox, unread first, newest first."""

    items: list[NotificationOut]
    unread: int
    limit: int
    offset: int


class MarkedRead(BaseModel):
    """How many entries were marked read."""

    marked: int


WEBHOOK_URL_MAX = 2000


def _fits_column(url: HttpUrl) -> HttpUrl:
    """The normalised URL (a "/" added, a host punycoded) must still fit what is stored."""
    if len(str(url)) > WEBHOOK_URL_MAX:
        raise ValueError(f"the URL is longer than {WEBHOOK_URL_MAX} characters once normalised")
    return url


WebhookUrl = Annotated[
    HttpUrl, UrlConstraints(max_length=WEBHOOK_URL_MAX), AfterValidator(_fits_column)
]


class WebhookCreate(BaseModel):
    """A webhook endpoint."""

    url: WebhookUrl
    event_types: list[str] = Field(min_length=1, examples=[["request.completed"]])
    active: bool = True


class WebhookUpdate(BaseModel):
    """Changes to a webhook; fields left out stay."""

    url: WebhookUrl | None = None
    event_types: list[str] | None = Field(default=None, min_length=1)
    active: bool | None = None


class WebhookOut(BaseModel):
    """A webhook as the API shows it; the secret only once, at creation."""

    id: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime
    secret: str | None = Field(default=None, description="Shown once, when created.")


class WebhookDeliveryOut(BaseModel):
    """A delivery of an event to a webhook."""

    id: str
    webhook_id: str
    event_type: str
    status: str
    attempts: int
    last_error: str | None
    replay_of: str | None
    created_at: datetime
    finished_at: datetime | None
    payload: dict[str, JsonValue]


class ProcessRepliesInput(BaseModel):
    """Read the reply mailbox once."""

    batch: int = Field(default=100, ge=1, le=1000)


class ProcessRepliesOutput(BaseModel):
    """What one pass over the reply mailbox did."""

    seen: int = 0
    applied: int = 0
    refused: int = 0
