"""Reading an AP mailbox: each new mail becomes an invoice workflow or an intake-log rejection.

One batch, in an order that makes a crash at any point harmless: mails are read with
BODY.PEEK[] (nothing changes on the server), dedupe keys are claimed in SQL, files are stored
under keys derived from the invoice id, the workflow is started under that id (a second start
is refused by Temporal), the intake log is written keyed by (mailbox, UIDVALIDITY, UID), and
only then is the mail flagged handled on the server. A retried batch redoes each step as a
no-op and starts no invoice twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio import activity
from temporalio.client import Client

from activities.heartbeat import heartbeating
from clients.invoices import invoice_policy, start_invoice
from config.settings import Settings
from erp.adapter import ErpAdapter
from intake.documents import StoredFile, dedupe_key, invoice_files, invoice_id_for
from intake.mail import ParsedMail, parse_mail
from intake.screening import Rejection, carries_invoice, screen
from schemas.intake import PollMailboxInput, PollMailboxOutput, RejectReason, ScreeningRules
from schemas.invoice import InvoiceInput
from schemas.text import without_nul
from store.db import transaction
from store.intake import add_log_entries, claim_keys, logged_uids, record_poll
from store.invoice_tables import Mailbox
from store.objects import ObjectStore
from store.secret_box import SecretBox, secret_box
from store.secret_columns import MAILBOX_SECRET

log = logging.getLogger(__name__)

HANDLED = b"$SignoffInvoice"


@dataclass
class _Mail:
    """One fetched mail on its way through the batch."""

    uid: int
    raw: bytes | None
    size: int
    owner: str  # mailbox/UIDVALIDITY/UID: which mail holds a dedupe key
    parsed: ParsedMail | None = None
    rejection: Rejection | None = None
    key: str | None = None
    invoice_id: str | None = None


class MailboxIntakeActivities:
    """The AP mailbox poller; SQL, object store, ERP and Temporal client injected."""

    def __init__(
        self,
        engine: Engine,
        objects: ObjectStore,
        erp: ErpAdapter,
        temporal: Client,
        settings: Settings,
        task_queue: str,
        box: SecretBox | None = None,
    ) -> None:
        """Keep the clients (the key ring from settings unless one is given)."""
        self.engine = engine
        self.objects = objects
        self.erp = erp
        self.temporal = temporal
        self.settings = settings
        self.task_queue = task_queue
        self.box = box or secret_box(settings)

    @activity.defn(name="poll_invoice_mailbox")
    async def poll_invoice_mailbox(self, inp: PollMailboxInput) -> PollMailboxOutput:
        """Take in one batch of new mail; `more` when mail is left for another batch."""
        with Session(self.engine) as session:
            mailbox = session.get(Mailbox, inp.mailbox_id)
        if mailbox is None or not mailbox.active:
            return PollMailboxOutput()
        async with heartbeating():
            try:
                output = await self._poll(mailbox)
            except Exception as exc:
                await asyncio.to_thread(
                    self._record_poll, mailbox.id, f"{type(exc).__name__}: {exc}"
                )
                raise
        await asyncio.to_thread(self._record_poll, mailbox.id, None)
        return output

    def _record_poll(self, mailbox_id: str, error: str | None) -> None:
        with transaction(self.engine) as session:
            record_poll(session, mailbox_id, datetime.now(UTC), error)

    async def _poll(self, mailbox: Mailbox) -> PollMailboxOutput:
        imap = await asyncio.to_thread(self._connect, mailbox)
        try:
            uidvalidity, mails, more = await asyncio.to_thread(self._fetch, imap, mailbox)
            if not mails:
                return PollMailboxOutput()
            done = await asyncio.to_thread(
                self._logged, mailbox.id, uidvalidity, [m.uid for m in mails]
            )
            fresh = [m for m in mails if m.uid not in done]
            output = PollMailboxOutput(seen=len(fresh), more=more)
            if fresh:
                await self._take_in(mailbox, uidvalidity, fresh, output)
            # Only now, with every workflow started and logged, are the mails done.
            await asyncio.to_thread(imap.add_flags, [m.uid for m in mails], [HANDLED])
            return output
        finally:
            await asyncio.to_thread(_logout, imap)

    def _connect(self, mailbox: Mailbox) -> IMAPClient:
        # Decrypted here, by id, and only for the login: the secret never leaves this frame.
        password = self.box.decrypt(mailbox.secret, context=MAILBOX_SECRET.context(mailbox.id))
        imap = IMAPClient(mailbox.host, port=mailbox.port, ssl=mailbox.tls, timeout=60)
        imap.login(mailbox.username, password)
        return imap

    def _fetch(self, imap: IMAPClient, mailbox: Mailbox) -> tuple[int, list[_Mail], bool]:
        status = imap.select_folder(mailbox.folder, readonly=False)
        uidvalidity = int(status[b"UIDVALIDITY"])
        uids = sorted(imap.search(["NOT", "KEYWORD", HANDLED.decode(), "NOT", "DELETED"]))
        batch = uids[: self.settings.intake_batch_size]
        if not batch:
            return uidvalidity, [], False
        sizes = imap.fetch(batch, [b"RFC822.SIZE"])
        limit = self.settings.intake_mail_max_bytes
        small = [uid for uid in batch if int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0)) <= limit]
        bodies = imap.fetch(small, [b"BODY.PEEK[]"]) if small else {}
        mails = [
            _Mail(
                uid=int(uid),
                raw=bodies.get(uid, {}).get(b"BODY[]") if uid in small else None,
                size=int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0)),
                owner=f"{mailbox.id}/{uidvalidity}/{uid}",
            )
            for uid in batch
        ]
        return uidvalidity, mails, len(uids) > len(batch)

    def _logged(self, mailbox_id: str, uidvalidity: int, uids: list[int]) -> set[int]:
        with Session(self.engine) as session:
            return logged_uids(session, mailbox_id, uidvalidity, uids)

    async def _take_in(
        self, mailbox: Mailbox, uidvalidity: int, mails: list[_Mail], output: PollMailboxOutput
    ) -> None:
        rules = ScreeningRules.model_validate(mailbox.rules)
        domains = await asyncio.to_thread(self.erp.supplier_domains, mailbox.org_id)
        for mail in mails:
            self._screen(mail, rules, domains)
        await asyncio.to_thread(self._claim, mailbox.org_id, mails)
        now = datetime.now(UTC)
        starts = [self._store_and_start(mailbox, m, rules, now) for m in mails]
        await asyncio.gather(*starts)
        rows = [self._log_row(mailbox, uidvalidity, m, now) for m in mails]
        await asyncio.to_thread(self._log, rows)
        output.accepted = sum(1 for m in mails if m.rejection is None)
        output.rejected = len(mails) - output.accepted

    def _screen(self, mail: _Mail, rules: ScreeningRules, domains: list[str]) -> None:
        limit = self.settings.intake_mail_max_bytes
        if mail.raw is None:
            mail.rejection = Rejection(
                RejectReason.TOO_LARGE, f"the mail is {mail.size} bytes, over the {limit} limit"
            )
            return
        try:
            mail.parsed = parse_mail(
                mail.raw, archive_max_bytes=self.settings.intake_archive_max_bytes
            )
        except Exception as exc:  # the parser is lenient; anything left is an unreadable mail
            mail.rejection = Rejection(RejectReason.UNREADABLE, f"the mail cannot be parsed: {exc}")
            return
        mail.rejection = screen(mail.parsed, rules, domains)
        if mail.rejection is None:
            mail.key = dedupe_key(mail.parsed, mail.raw)

    def _claim(self, org_id: str, mails: list[_Mail]) -> None:
        rows = []
        for mail in mails:
            if mail.key is None:
                continue
            mail.invoice_id = invoice_id_for(org_id, mail.key)
            rows.append(
                {
                    "org_id": org_id,
                    "dedupe_key": mail.key,
                    "invoice_id": mail.invoice_id,
                    "owner": mail.owner,
                    "created_at": datetime.now(UTC),
                }
            )
        # Keys are claimed one mail after another within the batch, so two copies of one
        # mail in the same batch are told apart too.
        with transaction(self.engine) as session:
            owners = claim_keys(session, _first_per_key(rows))
        for mail in mails:
            if mail.key is not None and owners.get(mail.key) != mail.owner:
                mail.rejection = Rejection(
                    RejectReason.DUPLICATE, f"already taken in as invoice {mail.invoice_id}"
                )

    async def _store_and_start(
        self, mailbox: Mailbox, mail: _Mail, rules: ScreeningRules, now: datetime
    ) -> None:
        if mail.rejection is not None or mail.parsed is None or mail.invoice_id is None:
            if mail.raw is not None:
                await asyncio.to_thread(self._put_rejected, mailbox, mail)
            return
        assert mail.raw is not None
        parsed = mail.parsed
        metadata = {
            "message_id": parsed.message_id,
            "from": parsed.sender,
            "to": parsed.to,
            "subject": parsed.subject,
            "date": parsed.date,
            "mailbox": mailbox.id,
        }
        files, manifest = invoice_files(
            mail.invoice_id,
            [
                a
                for a in parsed.attachments
                if a.kind in ("pdf", "xml")
                and (carries_invoice(a, rules) or a.role in ("purchase_order", "goods_receipt"))
            ],
            raw_mail=mail.raw,
            metadata=metadata,
            received_at=now,
        )
        await asyncio.to_thread(self._put_all, [*files, manifest])
        started = await start_invoice(
            self.temporal,
            self.task_queue,
            InvoiceInput(
                invoice_id=mail.invoice_id,
                org_id=mailbox.org_id,
                source="email",
                submitted_by=mailbox.id,
                sender=parsed.sender,
                subject=parsed.subject[:300] or None,
                documents=[f.ref for f in files],
                policy=invoice_policy(self.settings),
            ),
        )
        if not started:
            log.info("invoice %s was started before (a retried batch)", mail.invoice_id)

    def _put_all(self, files: list[StoredFile]) -> None:
        for stored in files:
            self.objects.put(stored.ref.key, stored.data, stored.ref.content_type)

    def _put_rejected(self, mailbox: Mailbox, mail: _Mail) -> None:
        assert mail.raw is not None
        self.objects.put(self._rejected_key(mailbox, mail), mail.raw, "message/rfc822")

    @staticmethod
    def _rejected_key(mailbox: Mailbox, mail: _Mail) -> str:
        digest = hashlib.sha256(mail.raw or b"").hexdigest()[:16]
        return f"intake/{mailbox.org_id}/{mailbox.id}/{mail.uid}-{digest}.eml"

    def _log_row(
        self, mailbox: Mailbox, uidvalidity: int, mail: _Mail, now: datetime
    ) -> dict[str, Any]:
        parsed = mail.parsed
        rejected = mail.rejection
        raw_key = None
        if rejected is None and mail.invoice_id:
            raw_key = f"requests/{mail.invoice_id}/documents/mail.eml"
        elif mail.raw is not None:
            raw_key = self._rejected_key(mailbox, mail)
        return {
            "id": f"in-{uuid.uuid4()}",
            "org_id": mailbox.org_id,
            "mailbox_id": mailbox.id,
            "uidvalidity": uidvalidity,
            "uid": mail.uid,
            "message_id": parsed.message_id[:300] if parsed and parsed.message_id else None,
            "content_sha256": hashlib.sha256(mail.raw or b"").hexdigest(),
            "sender": parsed.sender[:320] if parsed and parsed.sender else None,
            "subject": parsed.subject[:400] if parsed else None,
            "outcome": "accepted" if rejected is None else "rejected",
            "reason_code": rejected.code.value if rejected else None,
            "reason": rejected.reason[:1000] if rejected else None,
            "invoice_id": mail.invoice_id,
            "raw_key": raw_key,
            "seen_at": now,
        }

    def _log(self, rows: list[dict[str, Any]]) -> None:
        # Mail headers can carry an encoded NUL, which SQL text refuses.
        rows = [
            {k: without_nul(v) if isinstance(v, str) else v for k, v in r.items()} for r in rows
        ]
        with transaction(self.engine) as session:
            add_log_entries(session, rows)


def _clean(value: object) -> object:
    return without_nul(value) if isinstance(value, str) else value


def _first_per_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(row["dedupe_key"], row)
    return list(seen.values())


def _logout(imap: IMAPClient) -> None:
    try:
        imap.logout()
    except Exception:  # the connection may already be gone; nothing to clean up then
        log.debug("IMAP logout failed", exc_info=True)
