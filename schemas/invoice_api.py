"""The API's invoice, mailbox and intake-log contract."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from schemas.intake import ScreeningRules
from schemas.invoice import (
    CheckResult,
    FieldCorrections,
    InvoiceEvent,
    InvoiceStatus,
    InvoiceStep,
)
from schemas.invoice_fields import InvoiceFields
from schemas.text import Text, storable_secret

HOSTNAME = r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$"


class InvoiceSummary(BaseModel):
    """An invoice as lists and reports show it."""

    id: str
    source: str
    status: InvoiceStatus
    step: InvoiceStep
    reason: str | None
    supplier_id: str | None
    supplier_name: str | None
    invoice_number: str | None
    invoice_date: date | None
    total: Decimal | None
    currency: str | None
    approval_request_id: str | None
    erp_document: str | None
    sender: str | None
    created_at: datetime
    updated_at: datetime


class InvoicePage(BaseModel):
    """A page of invoices, newest first."""

    items: list[InvoiceSummary]
    total: int
    limit: int
    offset: int


class InvoiceDocumentOut(BaseModel):
    """A stored file of an invoice; `url` serves it for a short while."""

    filename: str
    role: str
    content_type: str
    size: int
    url: str


class InvoiceDetail(InvoiceSummary):
    """Everything about one invoice: fields with their sources, checks, trail, documents."""

    fields: InvoiceFields
    extraction_method: str | None
    checks: list[CheckResult]
    waived_checks: list[str]
    deadline: datetime
    subject: str | None
    events: list[InvoiceEvent]
    documents: list[InvoiceDocumentOut]


class InvoiceAccepted(BaseModel):
    """An uploaded invoice on its way."""

    id: str
    status: InvoiceStatus


class OverrideBody(BaseModel):
    """Correct a parked invoice's fields and continue it at a named step."""

    reason: Text = Field(min_length=3, max_length=2000)
    continue_at: Literal["extract", "validate", "approve", "post"]
    fields: FieldCorrections = Field(default_factory=FieldCorrections)
    waive_checks: list[Text] = Field(default_factory=list, max_length=20)


class MailboxCreate(BaseModel):
    """An IMAP mailbox to take invoices in from; the secret is never shown again."""

    name: Text = Field(min_length=1, max_length=200)
    host: Text = Field(pattern=HOSTNAME, max_length=253)
    port: int = Field(default=993, ge=1, le=65535)
    tls: bool = True
    username: Text = Field(min_length=1, max_length=320)
    secret: SecretStr = Field(min_length=1, max_length=500)
    folder: Text = Field(default="INBOX", min_length=1, max_length=200)
    poll_seconds: int = Field(default=60, ge=5, le=86_400)
    rules: ScreeningRules = Field(default_factory=ScreeningRules)
    active: bool = True

    @field_validator("secret")
    @classmethod
    def _storable(cls, secret: SecretStr) -> SecretStr:
        return storable_secret(secret)


class MailboxUpdate(BaseModel):
    """Change some of a mailbox's settings; a new secret replaces the old one."""

    name: Text | None = Field(default=None, min_length=1, max_length=200)
    host: Text | None = Field(default=None, pattern=HOSTNAME, max_length=253)
    port: int | None = Field(default=None, ge=1, le=65535)
    tls: bool | None = None
    username: Text | None = Field(default=None, min_length=1, max_length=320)
    secret: SecretStr | None = Field(default=None, min_length=1, max_length=500)
    folder: Text | None = Field(default=None, min_length=1, max_length=200)
    poll_seconds: int | None = Field(default=None, ge=5, le=86_400)
    rules: ScreeningRules | None = None
    active: bool | None = None

    @field_validator("secret")
    @classmethod
    def _storable(cls, secret: SecretStr | None) -> SecretStr | None:
        return None if secret is None else storable_secret(secret)


class MailboxOut(BaseModel):
    """A mailbox without its secret."""

    id: str
    name: str
    host: str
    port: int
    tls: bool
    username: str
    has_secret: bool
    folder: str
    poll_seconds: int
    rules: ScreeningRules
    active: bool
    last_polled_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class MailboxPage(BaseModel):
    """A page of mailboxes."""

    items: list[MailboxOut]
    total: int
    limit: int
    offset: int


class IntakeEntryOut(BaseModel):
    """One mail (or upload) seen: accepted with its invoice, or rejected with a reason."""

    id: str
    mailbox_id: str | None
    uid: int | None
    message_id: str | None
    sender: str | None
    subject: str | None
    outcome: Literal["accepted", "rejected"]
    reason_code: str | None
    reason: str | None
    invoice_id: str | None
    seen_at: datetime


class IntakePage(BaseModel):
    """A page of the intake log, newest first."""

    items: list[IntakeEntryOut]
    total: int
    limit: int
    offset: int
