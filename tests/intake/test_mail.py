"""Mails turned into attachments and facts, whatever shape they arrive in."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from intake.documents import dedupe_key, invoice_files, invoice_id_for
from intake.mail import parse_mail
from tests.intake.mails import invoice_mail, sample_pdf, zip_bomb, zip_of

LIMIT = 50 * 1024 * 1024


def test_an_invoice_mail_gives_its_pdf_and_facts() -> None:
    pdf = sample_pdf()
    raw = invoice_mail(attachments=[("INV-1001.pdf", pdf, "application/pdf")])
    mail = parse_mail(raw, archive_max_bytes=LIMIT)
    assert mail.sender == "billing@acme.test"
    assert mail.subject == "Invoice 1001"
    assert mail.message_id and mail.message_id.endswith("@acme.test>")
    [attachment] = mail.attachments
    assert (attachment.filename, attachment.kind, attachment.role) == (
        "INV-1001.pdf",
        "pdf",
        "invoice",
    )
    assert attachment.data == pdf


def test_purchase_order_and_goods_receipt_copies_are_told_apart() -> None:
    pdf = sample_pdf()
    raw = invoice_mail(
        attachments=[
            ("invoice.pdf", pdf, "application/pdf"),
            ("PO-4711.pdf", pdf, "application/pdf"),
            ("goods_receipt_88.pdf", pdf, "application/pdf"),
        ]
    )
    roles = [a.role for a in parse_mail(raw, archive_max_bytes=LIMIT).attachments]
    assert roles == ["invoice", "purchase_order", "goods_receipt"]


def test_the_type_comes_from_the_content_not_the_name() -> None:
    raw = invoice_mail(attachments=[("invoice.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")])
    [attachment] = parse_mail(raw, archive_max_bytes=LIMIT).attachments
    assert attachment.kind == "other" and attachment.role == "other"


def test_a_zip_is_opened_for_its_pdfs() -> None:
    pdf = sample_pdf()
    bundle = zip_of({"march/invoice.pdf": pdf, "readme.txt": b"hello"})
    raw = invoice_mail(attachments=[("invoices.zip", bundle, "application/zip")])
    mail = parse_mail(raw, archive_max_bytes=LIMIT)
    inner = [a for a in mail.attachments if a.from_archive]
    assert [(a.filename, a.kind) for a in inner] == [("invoice.pdf", "pdf")]
    assert inner[0].data == pdf
    assert not mail.problems


def test_a_zip_bomb_is_refused_without_expanding_it() -> None:
    bomb = zip_bomb(64 * 1024 * 1024)
    assert len(bomb) < 200_000
    raw = invoice_mail(attachments=[("invoices.zip", bomb, "application/zip")])
    mail = parse_mail(raw, archive_max_bytes=8 * 1024 * 1024)
    assert not [a for a in mail.attachments if a.from_archive]
    assert any("zip bomb" in p for p in mail.problems)


def test_a_damaged_zip_is_a_problem_not_a_crash() -> None:
    raw = invoice_mail(attachments=[("x.zip", b"PK\x03\x04" + b"\x00" * 40, "application/zip")])
    mail = parse_mail(raw, archive_max_bytes=LIMIT)
    assert any("cannot be opened" in p for p in mail.problems)


def test_malformed_mime_is_read_as_far_as_it_goes() -> None:
    raw = (
        b"From: someone@acme.test\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: application/pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n"
    )
    mail = parse_mail(raw, archive_max_bytes=LIMIT)
    assert mail.sender == "someone@acme.test"
    assert mail.message_id is None
    assert mail.problems  # the parser's defects are kept for the intake log


def test_garbage_bytes_parse_to_an_empty_mail() -> None:
    mail = parse_mail(b"\x00\xff\xfe garbage \x00" * 100, archive_max_bytes=LIMIT)
    assert mail.attachments == [] and mail.sender is None


def test_dedupe_key_is_the_message_id_or_else_the_whole_content() -> None:
    pdf = sample_pdf()
    first = invoice_mail(attachments=[("a.pdf", pdf, "application/pdf")], message_id=None)
    second = invoice_mail(
        subject="Invoice 1002", attachments=[("a.pdf", pdf, "application/pdf")], message_id=None
    )
    key_1 = dedupe_key(parse_mail(first, archive_max_bytes=LIMIT), first)
    key_2 = dedupe_key(parse_mail(second, archive_max_bytes=LIMIT), second)
    assert key_1.startswith("sha256:") and key_1 != key_2  # no Message-ID: never merged
    with_id = invoice_mail(message_id="<Same@Acme.test>")
    again = invoice_mail(subject="resent", message_id="<same@acme.test>")
    assert dedupe_key(parse_mail(with_id, archive_max_bytes=LIMIT), with_id) == dedupe_key(
        parse_mail(again, archive_max_bytes=LIMIT), again
    )
    assert (
        invoice_id_for("org", key_1) == invoice_id_for("org", key_1) != invoice_id_for("o2", key_1)
    )


def test_files_and_manifest_live_under_the_invoice() -> None:
    pdf = sample_pdf()
    raw = invoice_mail(
        attachments=[("inv.pdf", pdf, "application/pdf"), ("PO-1.pdf", pdf, "application/pdf")]
    )
    mail = parse_mail(raw, archive_max_bytes=LIMIT)
    files, manifest = invoice_files(
        "inv-1",
        mail.attachments,
        raw_mail=raw,
        metadata={"subject": mail.subject},
        received_at=datetime(2026, 11, 22, tzinfo=UTC),
    )
    assert [f.ref.key for f in files] == [
        "requests/inv-1/documents/mail.eml",
        "requests/inv-1/documents/inv.pdf",
        "requests/inv-1/documents/PO-1.pdf",
    ]
    assert manifest.ref.key == "requests/inv-1/documents/manifest.json"
    body = json.loads(manifest.data)
    assert body["transaction_id"] == "inv-1"
    assert body["purchase_orders"] == ["PO-1.pdf"]
    assert body["mail"]["subject"] == "Invoice 1001"
    assert [f["filename"] for f in body["files"]] == ["mail.eml", "inv.pdf", "PO-1.pdf"]
