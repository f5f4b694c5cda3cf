"""The invoice's bookkeeping I/O: its read-model row, the AP team's review notices, and the
approval request's input built from the invoice template."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity

from bizcal.holidays import snapshot_calendar
from clients.mail import Mailer
from config.settings import Settings
from invoicing.rows import invoice_row
from notify.email import message_id
from schemas.approval import ApprovalInput
from schemas.invoice import (
    InvoiceReviewNotice,
    PrepareApprovalInput,
    PrepareApprovalOutput,
    RecordInvoiceInput,
)
from store.db import transaction
from store.invoice_tables import InvoiceRecord
from store.master_data import NotFound, load_org_calendar, load_template
from store.notifications import Contact, add_inbox_entries, claim_deliveries, mark_delivered
from store.tables import User
from store.upsert import upsert_newer

# Who reviews parked invoices: holders of AP, else the org's admins.
AP_ROLE = "AP"


class InvoiceRecordActivities:
    """Read model, review notices and approval input; engine and mailer injected."""

    def __init__(self, engine: Engine, mailer: Mailer, settings: Settings) -> None:
        """Keep the clients."""
        self.engine = engine
        self.mailer = mailer
        self.settings = settings

    @activity.defn(name="record_invoice_state")
    def record_invoice_state(self, inp: RecordInvoiceInput) -> bool:
        """Write the invoice row unless a newer version is there; True when written."""
        with transaction(self.engine) as session:
            return upsert_newer(
                session, InvoiceRecord, invoice_row(inp.state, datetime.now(UTC)), ["id"], "version"
            )

    @activity.defn(name="prepare_invoice_approval")
    def prepare_invoice_approval(self, inp: PrepareApprovalInput) -> PrepareApprovalOutput:
        """The approval input from the org's invoice template, routed on amount, department
        and the validation's warnings."""
        fields = inp.fields
        with Session(self.engine) as session:
            try:
                template = load_template(session, inp.org_id, inp.template_key)
                calendar = load_org_calendar(session, inp.org_id)
            except NotFound as missing:
                return PrepareApprovalOutput(problem=f"{missing} does not exist in this org")
        snapshot = snapshot_calendar(
            calendar, datetime.now(UTC).year, self.settings.holiday_years_ahead
        )
        supplier = inp.validation.supplier_name or (
            fields.supplier_name.value if fields.supplier_name else "unknown supplier"
        )
        number = fields.invoice_number.value if fields.invoice_number else "(no number)"
        try:
            approval = ApprovalInput(
                org_id=inp.org_id,
                template=template,
                calendar=snapshot,
                requester=inp.requester,
                title=f"Invoice {number} from {supplier}"[:300],
                amount=fields.total.value if fields.total else None,
                currency=fields.currency.value if fields.currency else None,
                department=inp.validation.department,
                fields={
                    "invoice_id": inp.invoice_id,
                    "supplier": supplier,
                    "invoice_number": number,
                    "warnings": list(inp.validation.warnings),
                },
                flags=inp.validation.warnings,
            )
        except ValidationError as invalid:
            return PrepareApprovalOutput(problem=f"the approval cannot start: {invalid}")
        return PrepareApprovalOutput(approval=approval)

    @activity.defn(name="notify_invoice_review")
    async def notify_invoice_review(self, notice: InvoiceReviewNotice) -> int:
        """Inbox entries and e-mails to the AP team; each is sent once per notice."""
        team = await asyncio.to_thread(self._team, notice.org_id)
        subject = _subject(notice)
        now = datetime.now(UTC)
        inbox = [
            {
                "org_id": notice.org_id,
                "recipient": c.user_id,
                "request_id": notice.invoice_id,
                "event_seq": notice.seq,
                "kind": "invoice_review_reminder" if notice.reminder else "invoice_needs_review",
                "subject": subject[:400],
                "created_at": now,
            }
            for c in team
            if "inbox" in c.channels
        ]
        mails = [c for c in team if "email" in c.channels]
        claims = [
            {
                "key": f"{notice.invoice_id}.{notice.seq}.{c.user_id}.email",
                "org_id": notice.org_id,
                "channel": "email",
                "recipient": c.email,
                "request_id": notice.invoice_id,
                "status": "pending",
                "created_at": now,
            }
            for c in mails
        ]
        due = await asyncio.to_thread(self._store, inbox, claims)
        sent: list[str] = []
        for contact, claim in zip(mails, claims, strict=True):
            if claim["key"] in due:
                await self.mailer.send(self._compose(notice, contact, subject))
                sent.append(str(claim["key"]))
        await asyncio.to_thread(self._mark, sent)
        return len(sent)

    def _team(self, org_id: str) -> list[Contact]:
        with Session(self.engine) as session:
            users = session.exec(
                select(User).where(col(User.org_id) == org_id, col(User.active).is_(True))
            ).all()
        ap = [u for u in users if AP_ROLE in u.roles] or [u for u in users if "ADMIN" in u.roles]
        return [Contact(u.id, u.email, u.name, tuple(u.notification_channels or ())) for u in ap]

    def _store(self, inbox: list[dict[str, Any]], claims: list[dict[str, Any]]) -> set[str]:
        with transaction(self.engine) as session:
            add_inbox_entries(session, inbox)
            return claim_deliveries(session, claims)

    def _mark(self, keys: list[str]) -> None:
        with transaction(self.engine) as session:
            mark_delivered(session, keys)

    def _compose(self, notice: InvoiceReviewNotice, to: Contact, subject: str) -> EmailMessage:
        link = f"{self.settings.resolved_public_url()}/api/v1/invoices/{notice.invoice_id}"
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.settings.mail_from
        message["To"] = f"{to.name} <{to.email}>"
        message["Message-ID"] = message_id(notice.invoice_id, notice.seq, to.user_id)
        message["X-Signoff-Invoice"] = notice.invoice_id
        message.set_content(
            f"Hello {to.name},\n\n{subject}.\n\nStep: {notice.step.value}\n"
            f"Reason: {notice.reason}\n\nFix the fields and continue the invoice:\n{link}\n"
            "(POST .../override with the corrected fields, the step to continue at and a reason)\n"
        )
        return message


def _subject(notice: InvoiceReviewNotice) -> str:
    what = f"Invoice {notice.invoice_number or notice.invoice_id}"
    if notice.supplier_name:
        what += f" from {notice.supplier_name}"
    prefix = "Reminder: " if notice.reminder else ""
    return f"{prefix}{what} needs review at {notice.step.value}"
