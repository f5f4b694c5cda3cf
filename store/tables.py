"""SQLModel tables: master data (written by the API) and the read model (written by activities)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.types import UtcDateTime

# Serial ids are 32-bit in PostgreSQL: ids from outside are bounded by this before any query.
MAX_SERIAL_ID = 2**31 - 1


def _json(nullable: bool = False) -> Any:
    return Field(sa_column=Column(JSON, nullable=nullable))


def _when(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


# ---- master data ----------------------------------------------------------------------------


class Org(SQLModel, table=True):
    """A tenant; its business calendar is an OrgCalendar as JSON."""

    __tablename__ = "orgs"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    calendar: dict[str, Any] = _json()
    mfa_required: bool = Field(
        default=False, description="ADMIN and MANAGEMENT users must use MFA to log in."
    )
    created_at: datetime = _when()


class User(SQLModel, table=True):
    """A person in an org, with roles (ADMIN, MANAGEMENT, USER and any approver roles)."""

    __tablename__ = "users"

    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(foreign_key="orgs.id", index=True, max_length=64)
    email: str = Field(unique=True, max_length=320)
    name: str = Field(max_length=200)
    roles: list[str] = _json()
    active: bool = True
    password_hash: str | None = Field(default=None, max_length=300)
    notification_channels: list[str] = Field(
        default_factory=lambda: ["inbox", "email"], sa_column=Column(JSON, nullable=False)
    )
    failed_logins: int = 0
    locked_until: datetime | None = _when(nullable=True)
    # TOTP secrets are stored encrypted (store.secret_box); pending until a code confirms it.
    mfa_enabled: bool = False
    totp_secret: str | None = Field(default=None, max_length=500)
    totp_pending_secret: str | None = Field(default=None, max_length=500)
    totp_last_step: int | None = Field(
        default=None, description="The last TOTP time step accepted: a code is good only once."
    )
    created_at: datetime = _when()


class RefreshToken(SQLModel, table=True):
    """One issued refresh token; a family is one login's chain of rotations."""

    __tablename__ = "refresh_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=64)
    family_id: str = Field(index=True, max_length=64)
    expires_at: datetime = _when()
    used_at: datetime | None = _when(nullable=True)
    revoked_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when()


class RecoveryCode(SQLModel, table=True):
    """One MFA recovery code of a user, as a SHA-256 hash; good for one login."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=64)
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when()


class IdempotencyKey(SQLModel, table=True):
    """A client's Idempotency-Key for starting a request, with the body it came with."""

    __tablename__ = "idempotency_keys"

    org_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=200)
    body_sha256: str = Field(max_length=64)
    request_id: str = Field(max_length=128)
    created_at: datetime = _when()


class Document(SQLModel, table=True):
    """A file attached to a request; the bytes live in the object store under object_key."""

    __tablename__ = "documents"

    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(index=True, max_length=64)
    request_id: str = Field(index=True, max_length=128)
    object_key: str = Field(max_length=500)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    uploaded_by: str = Field(max_length=64)
    created_at: datetime = _when()


class Template(SQLModel, table=True):
    """One version of an org's approval template; body is a TemplateSnapshot as JSON."""

    __tablename__ = "templates"

    org_id: str = Field(foreign_key="orgs.id", primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=100)
    version: int = Field(primary_key=True)
    name: str = Field(max_length=200)
    body: dict[str, Any] = _json()
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _when()
    deleted_at: datetime | None = _when(nullable=True)


# ---- read model -----------------------------------------------------------------------------


class RequestRecord(SQLModel, table=True):
    """One request as lists and filters see it; `version` is the last audit seq applied."""

    __tablename__ = "requests"
    __table_args__ = (Index("ix_requests_org_status_created", "org_id", "status", "created_at"),)

    id: str = Field(primary_key=True, max_length=128)
    org_id: str = Field(index=True, max_length=64)
    template_key: str = Field(max_length=100)
    template_version: int
    title: str = Field(max_length=300)
    requester: str = Field(index=True, max_length=64)
    amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 4), nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    department: str | None = Field(default=None, max_length=100)
    priority: str = Field(max_length=32)
    status: str = Field(max_length=32)
    sla_state: str = Field(max_length=32)
    current_level_id: str | None = Field(default=None, max_length=32)
    paused: bool = False
    created_at: datetime = _when(index=True)
    updated_at: datetime = _when()
    closed_at: datetime | None = _when(nullable=True)
    version: int
    snapshot: dict[str, Any] = _json()


class RequestLevelRecord(SQLModel, table=True):
    """One level of a request, for SLA reports per template and level."""

    __tablename__ = "request_levels"

    request_id: str = Field(primary_key=True, max_length=128)
    level_id: str = Field(primary_key=True, max_length=32)
    org_id: str = Field(index=True, max_length=64)
    position: int
    name: str = Field(max_length=200)
    status: str = Field(max_length=32)
    mode: str = Field(max_length=8)
    approvers: list[str] = _json()
    started_at: datetime | None = _when(nullable=True)
    ended_at: datetime | None = _when(nullable=True)
    breach_due: datetime | None = _when(nullable=True)
    breached: bool = False
    escalated: bool = False
    business_seconds: float | None = Field(
        default=None, description="Business time from start to end in the request's calendar."
    )


class RequestAssignee(SQLModel, table=True):
    """Who a request currently waits on, for "assigned to me"."""

    __tablename__ = "request_assignees"

    request_id: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(primary_key=True, index=True, max_length=64)
    org_id: str = Field(max_length=64)


class AuditRecord(SQLModel, table=True):
    """One audit event of a request; (request_id, seq) makes repeated writes harmless."""

    __tablename__ = "audit_events"

    request_id: str = Field(primary_key=True, max_length=128)
    seq: int = Field(primary_key=True)
    org_id: str = Field(index=True, max_length=64)
    at: datetime = _when(index=True)
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=64)
    level_id: str | None = Field(default=None, max_length=32)
    reason: str | None = None
    detail: dict[str, Any] = _json()


class Notification(SQLModel, table=True):
    """An in-app inbox entry: one per event and recipient, however often it is written."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("request_id", "event_seq", "recipient", name="uq_notification_event"),
        Index("ix_notifications_recipient_read", "recipient", "read_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    org_id: str = Field(max_length=64)
    recipient: str = Field(max_length=64)
    request_id: str = Field(max_length=128)
    event_seq: int
    kind: str = Field(max_length=40)
    subject: str = Field(max_length=400)
    created_at: datetime = _when()
    read_at: datetime | None = _when(nullable=True)


# ---- notifications --------------------------------------------------------------------------


class Delivery(SQLModel, table=True):
    """One message sent on one channel for one event and recipient: retries never resend."""

    __tablename__ = "deliveries"

    key: str = Field(primary_key=True, max_length=300)
    org_id: str = Field(index=True, max_length=64)
    channel: str = Field(max_length=20)
    recipient: str = Field(max_length=320)
    request_id: str = Field(index=True, max_length=128)
    status: str = Field(max_length=20)
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)


class ActionToken(SQLModel, table=True):
    """A single-use approve/reject link or reply address, bound to request, level, approver."""

    __tablename__ = "action_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(index=True, max_length=64)
    request_id: str = Field(index=True, max_length=128)
    level_id: str = Field(max_length=32)
    approver: str = Field(max_length=64)
    action: str = Field(max_length=10)
    expires_at: datetime = _when()
    used_at: datetime | None = _when(nullable=True)
    used_by: str | None = Field(default=None, max_length=300, description="Reply Message-ID.")
    created_at: datetime = _when()


class Webhook(SQLModel, table=True):
    """An org's webhook endpoint and the event types it wants."""

    __tablename__ = "webhooks"

    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(index=True, max_length=64)
    url: str = Field(max_length=2000)
    event_types: list[str] = _json()
    active: bool = True
    secret: str = Field(max_length=500)  # stored encrypted (store.secret_box)
    created_by: str = Field(max_length=64)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class WebhookDelivery(SQLModel, table=True):
    """One event sent to one webhook; dead after its last failed attempt, replayable."""

    __tablename__ = "webhook_deliveries"

    id: str = Field(primary_key=True, max_length=128)
    org_id: str = Field(index=True, max_length=64)
    webhook_id: str = Field(index=True, max_length=64)
    event_type: str = Field(max_length=60)
    payload: dict[str, Any] = _json()
    status: str = Field(index=True, max_length=20)
    attempts: int = 0
    last_error: str | None = None
    replay_of: str | None = Field(default=None, max_length=128)
    created_at: datetime = _when()
    finished_at: datetime | None = _when(nullable=True)
