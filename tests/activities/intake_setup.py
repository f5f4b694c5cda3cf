"""A mailbox of a test's own on the real dovecot, with the poller's activities built for it:
shared by the intake tests and the fault tests."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment

from activities.intake import HANDLED, MailboxIntakeActivities
from config.secret_key import secret_key
from config.settings import Settings
from erp.reference import ReferenceErpAdapter
from schemas.intake import PollMailboxInput, PollMailboxOutput, ScreeningRules
from store.db import transaction
from store.invoice_tables import IntakeEntry, Mailbox
from store.objects import ObjectStore, make_object_store
from tests.api.imap_server import Dovecot
from tests.invoicing.ap_world import WIDGETS, ApWorld, seed_ap_world
from tests.invoicing.einvoices import ubl_invoice


@dataclass
class Intake:
    """One test's mailbox (its own IMAP folder), its poller and what it needs."""

    world: ApWorld
    mailbox_id: str
    folder: str
    dovecot: Dovecot
    activities: MailboxIntakeActivities
    objects: ObjectStore
    engine: Engine
    client: Client

    def deliver(self, raw: bytes) -> None:
        """Append a mail to the test's folder, as the mail server would."""
        imap = self.dovecot.connect()
        try:
            imap.append(self.folder, raw)
        finally:
            imap.logout()

    async def poll(self) -> PollMailboxOutput:
        """One batch, run as the activity runs in a worker."""
        return await ActivityEnvironment().run(
            self.activities.poll_invoice_mailbox, PollMailboxInput(mailbox_id=self.mailbox_id)
        )

    def log(self) -> list[IntakeEntry]:
        """The mailbox's intake log, oldest first."""
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(IntakeEntry)
                    .where(col(IntakeEntry.mailbox_id) == self.mailbox_id)
                    .order_by(col(IntakeEntry.uid))
                )
            )

    def unmarked(self) -> list[int]:
        """UIDs of the folder's mails not flagged handled."""
        imap = self.dovecot.connect()
        try:
            imap.select_folder(self.folder)
            return list(imap.search(["NOT", "KEYWORD", HANDLED.decode()]))
        finally:
            imap.logout()


def make_intake(
    engine: Engine,
    dovecot: Dovecot,
    client: Client,
    settings: Settings,
    *,
    port: int | None = None,
    rules: ScreeningRules | None = None,
    objects: ObjectStore | None = None,
) -> Intake:
    """An AP world, an IMAP folder of its own and a mailbox row for it, and the activities."""
    world = seed_ap_world(engine)
    folder = f"ap-{uuid.uuid4().hex[:10]}"
    imap = dovecot.connect()
    try:
        imap.create_folder(folder)
    finally:
        imap.logout()
    now = datetime.now(UTC)
    mailbox = Mailbox(
        id=f"mbx-{uuid.uuid4().hex[:12]}",
        org_id=world.org_id,
        name="AP",
        host=dovecot.host,
        port=port or dovecot.port,
        tls=False,
        username=dovecot.username,
        secret=dovecot.password,
        folder=folder,
        poll_seconds=60,
        rules=(rules or ScreeningRules()).model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    mailbox_id = mailbox.id
    with transaction(engine) as session:
        session.add(mailbox)
    objects = objects or make_object_store(settings, secret_key(settings))
    activities = MailboxIntakeActivities(
        engine, objects, ReferenceErpAdapter(engine), client, settings, f"tq-{uuid.uuid4()}"
    )
    return Intake(world, mailbox_id, folder, dovecot, activities, objects, engine, client)


async def end_invoice_workflows(intake: Intake) -> None:
    """Terminate the invoice workflows a test's mails started."""
    for entry in intake.log():
        if entry.outcome == "accepted" and entry.invoice_id:
            with contextlib.suppress(RPCError):  # ended already
                await intake.client.get_workflow_handle(entry.invoice_id).terminate("test over")


def xml_invoice(number: str) -> bytes:
    """A UBL invoice from the AP world's supplier to its customer."""
    return ubl_invoice(
        number=number, supplier="Acme Supplies GmbH", customer="Globex", lines=WIDGETS
    )
