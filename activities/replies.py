"""Approvals by e-mail reply: read the reply mailbox, signal the workflow, then mark the mail.

A mail is flagged handled only after its signal is durable in Temporal, so a crash in
between reads it again; anything unusable is answered with a short e-mail saying why.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage

from imapclient import IMAPClient
from sqlalchemy import Engine
from sqlmodel import col, update
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from clients.approvals import request_handle
from clients.mail import Mailer
from config.settings import Settings
from notify.replies import Reply, read_reply
from notify.tokens import token_hash
from schemas.approval import DecisionSignal
from schemas.notifications import ProcessRepliesInput, ProcessRepliesOutput
from store.db import transaction
from store.tables import ActionToken, User
from workflows.approval import ApprovalWorkflow

log = logging.getLogger(__name__)

HANDLED = b"$SignoffHandled"


@dataclass(frozen=True)
class Verdict:
    """A reply that may act, or the reason it may not."""

    token: ActionToken | None
    reason: str | None


class ReplyMailboxActivities:
    """The reply mailbox poller; IMAP settings, the Temporal client and a mailer injected."""

    def __init__(
        self, engine: Engine, settings: Settings, temporal: Client, mailer: Mailer
    ) -> None:
        """Keep the clients."""
        self.engine = engine
        self.settings = settings
        self.temporal = temporal
        self.mailer = mailer

    def _connect(self) -> IMAPClient:
        s = self.settings
        assert s.reply_imap_host and s.reply_imap_username
        imap = IMAPClient(
            s.reply_imap_host, port=s.reply_imap_port, ssl=s.reply_imap_ssl, timeout=30
        )
        password = s.reply_imap_password.get_secret_value() if s.reply_imap_password else ""
        imap.login(s.reply_imap_username, password)
        imap.select_folder(s.reply_imap_folder)
        return imap

    def _unhandled(self, imap: IMAPClient, batch: int) -> dict[int, bytes]:
        uids = imap.search(["NOT", "KEYWORD", HANDLED.decode()])[:batch]
        if not uids:
            return {}
        fetched = imap.fetch(uids, [b"BODY.PEEK[]"])
        return {int(uid): data[b"BODY[]"] for uid, data in fetched.items()}

    def _judge(self, reply: Reply) -> Verdict:
        if reply.automatic:
            return Verdict(None, "it is an automatic reply (out of office or similar)")
        if reply.token is None:
            return Verdict(None, "it was not sent to a Signoff approval address")
        with transaction(self.engine) as session:
            token = session.get(ActionToken, token_hash(reply.token))
            if token is None or token.action != "reply":
                return Verdict(None, "its approval address is not valid")
            approver = session.get(User, token.approver)
            session.expunge_all()
        if approver is None or approver.email.lower() != reply.sender:
            return Verdict(None, "it did not come from the address of the approver asked")
        if token.used_at is not None:
            if reply.message_id and token.used_by == reply.message_id:
                # This very mail was applied before a crash kept it from being flagged.
                return Verdict(None, None)
            return Verdict(None, "this approval was already answered")
        if token.expires_at <= datetime.now(UTC):
            return Verdict(None, "this approval address has expired")
        if reply.command is None:
            return Verdict(None, "its first line says neither APPROVE nor REJECT")
        if reply.command == "reject" and not reply.comment:
            return Verdict(None, "a rejection needs a reason after REJECT")
        return Verdict(token, None)

    def _spend(self, token: ActionToken, message_id: str) -> None:
        with transaction(self.engine) as session:
            session.exec(
                update(ActionToken)
                .where(col(ActionToken.token_hash) == token.token_hash)
                .values(used_at=datetime.now(UTC), used_by=message_id[:300] or None)
            )

    async def _answer(self, reply: Reply, reason: str) -> None:
        if reply.automatic or not reply.sender or "@" not in reply.sender:
            return  # never answer an auto-reply: that is how mail loops start
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = reply.sender
        message["Subject"] = "Your reply to Signoff was not applied"
        message["Auto-Submitted"] = "auto-replied"
        if reply.message_id:
            message["In-Reply-To"] = reply.message_id
        message.set_content(
            f"Your e-mail was not applied because {reason}.\n\n"
            "To decide, reply to the approval e-mail itself with APPROVE or REJECT on the first "
            "line (a rejection needs a reason after it), or use the links in that e-mail.\n"
        )
        await self.mailer.send(message)

    async def _apply(self, reply: Reply, token: ActionToken) -> bool:
        """Signal the decision; False when the request's workflow has already finished."""
        assert reply.command is not None
        try:
            await request_handle(self.temporal, token.request_id).signal(
                ApprovalWorkflow.decide,
                DecisionSignal(
                    actor=token.approver,
                    kind=reply.command,
                    text=reply.comment,
                    level_id=token.level_id,
                    via="email",
                    message_id=reply.message_id[:300] or None,
                ),
            )
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                raise  # Temporal is unreachable: the pass fails and the mail stays unread
            return False
        # The token is spent by this mail: a re-read after a crash is recognised.
        await asyncio.to_thread(self._spend, token, reply.message_id)
        return True

    @activity.defn(name="process_reply_mailbox")
    async def process_reply_mailbox(self, inp: ProcessRepliesInput) -> ProcessRepliesOutput:
        """One pass: every unhandled mail is applied or refused, then flagged handled."""
        reply_to = self.settings.reply_address
        if not reply_to or not self.settings.reply_imap_host:
            return ProcessRepliesOutput()
        imap = await asyncio.to_thread(self._connect)
        output = ProcessRepliesOutput()
        try:
            mails = await asyncio.to_thread(self._unhandled, imap, inp.batch)
            for uid, raw in sorted(mails.items()):
                activity.heartbeat(uid)
                output.seen += 1
                reply = read_reply(raw, reply_to)
                verdict = await asyncio.to_thread(self._judge, reply)
                if verdict.token is None and verdict.reason is None:
                    log.info("reply %s was applied before; marking it handled", uid)
                elif verdict.token is not None and await self._apply(reply, verdict.token):
                    log.info(
                        "reply %s applied: %s on %s",
                        uid,
                        reply.command,
                        verdict.token.request_id,
                    )
                    output.applied += 1
                else:
                    reason = verdict.reason or "the request is already closed"
                    log.warning("reply %s from %s refused: %s", uid, reply.sender, reason)
                    await self._answer(reply, reason)
                    output.refused += 1
                # Only now, with the signal durable (or the refusal sent), is the mail done.
                await asyncio.to_thread(imap.add_flags, [uid], [HANDLED, b"\\Seen"])
        finally:
            await asyncio.to_thread(imap.logout)
        return output
