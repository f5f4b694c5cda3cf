"""Building test e-mails: an invoice mail with attachments, the way suppliers send them."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path

INVOICES = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "invoices" / "invoice2data-compare"
)


def invoice_mail(
    sender: str = "billing@acme.test",
    subject: str = "Invoice 1001",
    attachments: list[tuple[str, bytes, str]] | None = None,
    *,
    message_id: str | None = "generate",
    to: str = "ap@example.test",
) -> bytes:
    """A mail with the given attachments (name, bytes, MIME type); a fresh Message-ID unless
    one is given or None (no Message-ID header at all)."""
    message = EmailMessage()
    message["From"] = f"Acme Billing <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    if message_id == "generate":
        message["Message-ID"] = make_msgid(domain="acme.test")
    elif message_id is not None:
        message["Message-ID"] = message_id
    message.set_content("Please find our invoice attached.")
    for name, data, mime in attachments or []:
        maintype, subtype = mime.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(policy=SMTP)  # CRLF, as mail travels


def sample_pdf(name: str = "AzureInterior.pdf") -> bytes:
    """One of the shared real invoices."""
    return (INVOICES / name).read_bytes()


def zip_of(files: dict[str, bytes]) -> bytes:
    """A zip archive holding these files (deflated)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(expanded_bytes: int) -> bytes:
    """A small zip whose one member inflates to `expanded_bytes` of zeros."""
    buffer = io.BytesIO()
    chunk = b"\0" * (1 << 20)
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as bundle,
        bundle.open("invoice.pdf", "w", force_zip64=True) as member,
    ):
        for _ in range(expanded_bytes // len(chunk)):
            member.write(chunk)
    return buffer.getvalue()
