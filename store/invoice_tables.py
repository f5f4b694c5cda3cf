"""AP intake and invoices: mailboxes (master data), the intake log, the dedupe claims, and the
invoices' read model (written by activities only)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.tables import _json, _when


class Mailbox(SQLModel, table=True):
    """An org's AP mailbox, polled by a Temporal Schedule; rules is a ScreeningRules dict."""

    __tablename__ = "mailboxes"

    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(index=True, max_length=64)
    name: str = Field(max_length=200)
    host: str = Field(max_length=255)
    port: int
    tls: bool = True
    username: str = Field(max_length=320)
    # Stored encrypted (store.secret_box): 500 characters of password seal to at most ~2,750.
    secret: str = Field(max_length=3000)
    folder: str = Field(default="INBOX", max_length=200)
    poll_seconds: int
    rules: dict[str, Any] = _json()
    active: bool = True
    last_polled_at: datetime | None = _when(nullable=True)
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class IntakeClaim(SQLModel, table=True):
    """The first mail seen with a dedupe key (its Message-ID, else its content hash) and the
    invoice it became; a later mail with the same key is a duplicate."""

    __tablename__ = "intake_claims"

    org_id: str = Field(primary_key=True, max_length=64)
    dedupe_key: str = Field(primary_key=True, max_length=300)
    invoice_id: str = Field(max_length=128)
    owner: str = Field(max_length=200, description="The mail (or upload) that holds the key.")
    created_at: datetime = _when()


class IntakeEntry(SQLModel, table=True):
    """Every mail (or upload) seen: accepted with its invoice, or rejected with a reason.
    (mailbox, UIDVALIDITY, UID) makes logging the same mail twice harmless."""

    __tablename__ = "intake_log"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "uidvalidity", "uid", name="uq_intake_mail"),
        Index("ix_intake_log_org_seen", "org_id", "seen_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(max_length=64)
    mailbox_id: str | None = Field(default=None, max_length=64)
    # IMAP numbers are unsigned 32-bit: past PostgreSQL's INTEGER.
    uidvalidity: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    uid: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    message_id: str | None = Field(default=None, max_length=300)
    content_sha256: str = Field(max_length=64)
    sender: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=400)
    outcome: str = Field(max_length=20)  # accepted | rejected
    reason_code: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=1000)
    invoice_id: str | None = Field(default=None, max_length=128)
    raw_key: str | None = Field(default=None, max_length=500)
    seen_at: datetime = _when()


class InvoiceRecord(SQLModel, table=True):
    """One invoice as lists, filters and reports see it; `version` orders the writes."""

    __tablename__ = "invoices"
    __table_args__ = (Index("ix_invoices_org_status_created", "org_id", "status", "created_at"),)

    id: str = Field(primary_key=True, max_length=128)
    org_id: str = Field(max_length=64)
    source: str = Field(max_length=20)  # email | upload
    status: str = Field(max_length=20)
    step: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=2000)
    supplier_id: str | None = Field(default=None, index=True, max_length=64)
    supplier_name: str | None = Field(default=None, max_length=200)
    invoice_number: str | None = Field(default=None, max_length=100)
    invoice_date: date | None = None
    total: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 4), nullable=True))
    currency: str | None = Field(default=None, max_length=3)
    approval_request_id: str | None = Field(default=None, max_length=128)
    erp_document: str | None = Field(default=None, max_length=64)
    sender: str | None = Field(default=None, max_length=320)
    detail: dict[str, Any] = _json()
    created_at: datetime = _when(index=True)
    updated_at: datetime = _when()
    version: int


class InvoiceNumberClaim(SQLModel, table=True):
    """The invoice that first holds a supplier's invoice number: the duplicate check."""

    __tablename__ = "invoice_number_claims"

    org_id: str = Field(primary_key=True, max_length=64)
    supplier_id: str = Field(primary_key=True, max_length=64)
    invoice_number: str = Field(primary_key=True, max_length=100)
    invoice_id: str = Field(max_length=128)
    created_at: datetime = _when()
