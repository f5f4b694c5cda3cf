"""The AP mailbox poller against a real dovecot and a real Temporal dev server: mails become
invoice workflows or intake-log rejections, and a crash before marking starts nothing twice."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from activities.intake import HANDLED
from config.settings import Settings
from schemas.intake import ScreeningRules
from store.db import transaction
from store.invoice_tables import Mailbox
from store.objects import S3ObjectStore
from tests.activities.intake_setup import (
    Intake,
    end_invoice_workflows,
    make_intake,
    xml_invoice,
)
from tests.api.imap_server import Dovecot, ImapGate
from tests.api.imap_server import dovecot as dovecot  # noqa: F401 (fixture)
from tests.api.s3_server import S3Server
from tests.intake.mails import invoice_mail, sample_pdf, zip_bomb, zip_of


@pytest.fixture
def settings(test_settings: Settings) -> Settings:
    """Small limits, so "too large" and zip bombs are quick to make."""
    return test_settings.model_copy(
        update={"intake_mail_max_bytes": 3_000_000, "intake_archive_max_bytes": 4_000_000}
    )


@pytest.fixture
async def intake(
    engine: Engine, dovecot: Dovecot, dev_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[Intake]:
    """A fresh org, mailbox folder and poller; its invoice workflows are ended afterwards."""
    taken = make_intake(engine, dovecot, dev_env.client, settings)
    yield taken
    await end_invoice_workflows(taken)


async def test_an_invoice_mail_starts_its_workflow_with_its_files_stored(intake: Intake) -> None:
    pdf = sample_pdf()
    raw = invoice_mail(
        attachments=[("INV-7.pdf", pdf, "application/pdf"), ("PO-1.pdf", pdf, "application/pdf")]
    )
    intake.deliver(raw)
    out = await intake.poll()
    assert (out.seen, out.accepted, out.rejected, out.more) == (1, 1, 0, False)
    [entry] = intake.log()
    assert entry.outcome == "accepted" and entry.invoice_id and entry.sender == "billing@acme.test"
    described = await intake.client.get_workflow_handle(entry.invoice_id).describe()
    assert described.workflow_type == "InvoiceWorkflow"
    assert described.status == WorkflowExecutionStatus.RUNNING
    prefix = f"requests/{entry.invoice_id}/documents"
    assert intake.objects.get(f"{prefix}/mail.eml") == raw
    assert intake.objects.get(f"{prefix}/INV-7.pdf") == pdf
    manifest = json.loads(intake.objects.get(f"{prefix}/manifest.json"))
    assert manifest["transaction_id"] == entry.invoice_id
    assert manifest["purchase_orders"] == ["PO-1.pdf"]
    assert manifest["mail"]["from"] == "billing@acme.test"
    assert intake.unmarked() == []
    # BODY.PEEK[]: the mail is not marked read for the people who share the mailbox.
    imap = intake.dovecot.connect()
    try:
        imap.select_folder(intake.folder)
        flags = next(iter(imap.get_flags(imap.search(["ALL"])).values()))
    finally:
        imap.logout()
    assert b"\\Seen" not in flags and HANDLED in flags
    assert (await intake.poll()).seen == 0  # nothing new


async def test_every_rejected_mail_is_logged_with_its_reason(intake: Intake) -> None:
    pdf = sample_pdf()
    cases = {
        "no_attachment": invoice_mail(),
        "unknown_sender": invoice_mail(
            sender="eve@evil.test", attachments=[("i.pdf", pdf, "application/pdf")]
        ),
        "not_an_invoice": invoice_mail(
            attachments=[("photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")]
        ),
        "too_large": invoice_mail(
            attachments=[("big.pdf", b"%PDF-1.4\n" + b"0" * 3_200_000, "application/pdf")]
        ),
        "unreadable": invoice_mail(
            attachments=[("invoices.zip", zip_bomb(16 * 1024 * 1024), "application/zip")]
        ),
    }
    rules = ScreeningRules(attachment_types=["pdf", "xml", "zip"])
    with transaction(intake.engine) as session:
        row = session.get(Mailbox, intake.mailbox_id)
        assert row is not None
        row.rules = rules.model_dump(mode="json")
        session.add(row)
    for raw in cases.values():
        intake.deliver(raw)
    out = await intake.poll()
    assert (out.seen, out.accepted, out.rejected) == (5, 0, 5)
    entries = intake.log()
    assert [e.reason_code for e in entries] == list(cases)
    reasons = {e.reason_code: e.reason for e in entries}
    assert "eve@evil.test is not a known supplier" in str(reasons["unknown_sender"])
    assert "zip bomb" in str(reasons["unreadable"])
    assert "over the 3000000 limit" in str(reasons["too_large"])
    # Nothing is lost: every rejected mail is kept, and the poller is done with all of them.
    for entry in entries:
        if entry.reason_code != "too_large":
            assert entry.raw_key and intake.objects.get(entry.raw_key)
    assert intake.unmarked() == []


async def test_a_zip_of_invoices_and_malformed_mime_are_handled(intake: Intake) -> None:
    rules = ScreeningRules(attachment_types=["pdf", "zip"])
    with transaction(intake.engine) as session:
        row = session.get(Mailbox, intake.mailbox_id)
        assert row is not None
        row.rules = rules.model_dump(mode="json")
        session.add(row)
    intake.deliver(
        invoice_mail(
            attachments=[("inv.zip", zip_of({"a/inv.pdf": sample_pdf()}), "application/zip")]
        )
    )
    intake.deliver(
        b"From: billing@acme.test\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n'
        b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@@\r\n"
    )
    out = await intake.poll()
    assert (out.accepted, out.rejected) == (1, 1)
    accepted, broken = intake.log()
    assert accepted.outcome == "accepted"
    assert broken.reason_code in ("unreadable", "not_an_invoice")
    assert intake.unmarked() == []


async def test_duplicates_by_message_id_but_never_by_a_missing_one(intake: Intake) -> None:
    xml = ("invoice.xml", xml_invoice("D-1"), "application/xml")
    intake.deliver(invoice_mail(attachments=[xml], message_id="<inv-d1@acme.test>"))
    intake.deliver(
        invoice_mail(subject="resent", attachments=[xml], message_id="<inv-d1@acme.test>")
    )
    intake.deliver(invoice_mail(subject="no id 1", attachments=[xml], message_id=None))
    intake.deliver(invoice_mail(subject="no id 2", attachments=[xml], message_id=None))
    out = await intake.poll()
    assert (out.accepted, out.rejected) == (3, 1)
    entries = intake.log()
    assert [e.outcome for e in entries] == ["accepted", "rejected", "accepted", "accepted"]
    assert entries[1].reason_code == "duplicate"
    assert entries[1].invoice_id == entries[0].invoice_id
    assert len({e.invoice_id for e in entries}) == 3


async def test_a_poller_cut_off_before_marking_starts_no_second_invoice(
    engine: Engine, dovecot: Dovecot, dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    gate = ImapGate(dovecot)
    cut = make_intake(engine, dovecot, dev_env.client, settings, port=gate.port)
    try:
        cut.deliver(invoice_mail(attachments=[("i.xml", xml_invoice("C-1"), "application/xml")]))
        gate.cut_at(b"+FLAGS")  # the connection dies when the poller marks the mail
        with pytest.raises(Exception):  # noqa: B017  (any I/O error of the cut connection)
            await cut.poll()
        assert gate.reached.is_set()
        [entry] = cut.log()  # the workflow was started and logged before the mark
        assert entry.invoice_id
        assert cut.unmarked() != []
        gate.open()
        out = await cut.poll()  # the retry: the mail is still unmarked
        assert out.accepted == 0 and out.seen == 0
        assert cut.unmarked() == []
        assert [e.invoice_id for e in cut.log()] == [entry.invoice_id]
        handle = cut.client.get_workflow_handle(entry.invoice_id)
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    finally:
        gate.close()
        await end_invoice_workflows(cut)


async def test_with_s3_the_files_land_in_the_bucket(
    engine: Engine,
    dovecot: Dovecot,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    s3_server: S3Server,
) -> None:
    bucket = f"intake-{uuid.uuid4().hex[:8]}"
    store = S3ObjectStore(s3_server.client(), bucket, 60)
    store.ensure_bucket()
    intake = make_intake(engine, dovecot, dev_env.client, settings, objects=store)
    try:
        xml = xml_invoice("S3-1")
        intake.deliver(invoice_mail(attachments=[("inv.xml", xml, "application/xml")]))
        assert (await intake.poll()).accepted == 1
        [entry] = intake.log()
        listed = s3_server.client().list_objects_v2(
            Bucket=bucket, Prefix=f"requests/{entry.invoice_id}/documents/"
        )
        names = sorted(o["Key"].rsplit("/", 1)[1] for o in listed.get("Contents", []))
        assert names == ["inv.xml", "mail.eml", "manifest.json"]
        body = (
            s3_server.client()
            .get_object(Bucket=bucket, Key=f"requests/{entry.invoice_id}/documents/inv.xml")["Body"]
            .read()
        )
        assert body == xml
    finally:
        await end_invoice_workflows(intake)
