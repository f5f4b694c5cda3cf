"""A raw e-mail turned into its header facts and attachments, tolerant of broken mail.

Nothing here raises on bad input: a malformed MIME structure, undecodable parts or an archive
that expands too far become `problems`, which screening turns into an intake-log reason.
"""

from __future__ import annotations

import email
import email.policy
import io
import re
import zipfile
from dataclasses import dataclass, field
from email.message import Message
from email.utils import parseaddr
from typing import Literal

from schemas.invoice import DocumentRole

Kind = Literal["pdf", "xml", "zip", "other"]

# More entries than this in one archive is not an invoice bundle.
ARCHIVE_MAX_ENTRIES = 100
_PO_NAME = re.compile(r"(^|[^a-z])(po|purchase[-_ ]?order|bestellung|commande)([^a-z]|$)")
_GRN_NAME = re.compile(r"(^|[^a-z])(grn|goods[-_ ]?rec(ei|ie)pt|delivery[-_ ]?note|lieferschein)")


@dataclass(frozen=True)
class Attachment:
    """One file of a mail (or of a zip inside it), with what it looks like and is for."""

    filename: str
    content_type: str
    data: bytes
    kind: Kind
    role: DocumentRole
    from_archive: bool = False


@dataclass
class ParsedMail:
    """What intake needs of a mail."""

    message_id: str | None
    sender: str | None
    subject: str
    to: str | None
    date: str | None
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def sniff(data: bytes) -> Kind:
    """The kind of a file by its first bytes, not by its name."""
    head = data[:1024].lstrip()
    if data.startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"<?xml") or head.startswith(b"<") and b"Invoice" in head:
        return "xml"
    return "other"


def document_role(filename: str, kind: Kind) -> DocumentRole:
    """What a file is for, from its kind and its name (PO and goods-receipt copies)."""
    name = filename.lower()
    if kind == "xml":
        return "xml"
    if kind != "pdf":
        return "other"
    if _GRN_NAME.search(name):
        return "goods_receipt"
    if _PO_NAME.search(name):
        return "purchase_order"
    return "invoice"


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # a header the parser cannot decode is as good as absent
        return None
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None


def parse_mail(raw: bytes, *, archive_max_bytes: int) -> ParsedMail:
    """The mail's facts and attachments; zip attachments expanded within the limits."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    sender = parseaddr(_header(message, "From") or "")[1].lower() or None
    mail = ParsedMail(
        message_id=_header(message, "Message-ID"),
        sender=sender if sender and "@" in sender else None,
        subject=_header(message, "Subject") or "",
        to=_header(message, "To"),
        date=_header(message, "Date"),
    )
    if message.defects:
        mail.problems.extend(type(d).__name__ for d in message.defects[:5])
    for part in _parts(message, mail):
        filename = part.get_filename() or ""
        try:
            data = part.get_payload(decode=True)
        except Exception:
            mail.problems.append(f"attachment {filename or '(unnamed)'} cannot be decoded")
            continue
        if not isinstance(data, bytes) or not data:
            continue
        kind = sniff(data)
        name = _safe_name(filename, kind, len(mail.attachments))
        if kind == "zip":
            mail.attachments.extend(_expand(name, data, archive_max_bytes, mail.problems))
        mail.attachments.append(
            Attachment(name, part.get_content_type(), data, kind, document_role(name, kind))
        )
    return mail


def _parts(message: Message, mail: ParsedMail) -> list[Message]:
    """The parts that are files: named, marked as attachments, or PDF/XML/zip by type."""
    found: list[Message] = []
    try:
        for part in message.walk():
            if part.is_multipart():
                continue
            disposition = (part.get_content_disposition() or "").lower()
            ctype = part.get_content_type()
            filelike = ctype in (
                "application/pdf",
                "application/xml",
                "text/xml",
                "application/zip",
            )
            if part.get_filename() or disposition == "attachment" or filelike:
                found.append(part)
    except Exception as exc:  # a MIME tree the parser chokes on
        mail.problems.append(f"malformed MIME structure: {type(exc).__name__}")
    return found


def _safe_name(filename: str, kind: Kind, index: int) -> str:
    base = re.sub(r"[^A-Za-z0-9._ -]", "_", filename.replace("\\", "/").rsplit("/", 1)[-1])
    base = base.strip(" .")[:120]
    if not base:
        base = f"attachment-{index + 1}" + ("" if kind == "other" else f".{kind}")
    return base


def _expand(archive: str, data: bytes, max_bytes: int, problems: list[str]) -> list[Attachment]:
    """PDF and XML files inside a zip, read with a cap on what it may expand to."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            entries = [i for i in bundle.infolist() if not i.is_dir()]
            if len(entries) > ARCHIVE_MAX_ENTRIES:
                problems.append(f"{archive} holds {len(entries)} files (at most 100)")
                return []
            found: list[Attachment] = []
            budget = max_bytes
            for info in entries:
                content = _read_capped(bundle, info, budget)
                if content is None:
                    problems.append(f"{archive} expands past {max_bytes} bytes (a zip bomb?)")
                    return []
                budget -= len(content)
                kind = sniff(content)
                if kind in ("pdf", "xml"):
                    name = _safe_name(info.filename, kind, len(found))
                    role = document_role(name, kind)
                    found.append(Attachment(name, f"application/{kind}", content, kind, role, True))
            return found
    except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, ValueError, OSError) as exc:
        # RuntimeError: encrypted members; the others: a damaged archive.
        problems.append(f"{archive} cannot be opened: {exc}")
        return []


def _read_capped(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes | None:
    """The member's bytes, or None once it passes the budget (the header's size may lie)."""
    if info.file_size > budget:
        return None
    chunks: list[bytes] = []
    total = 0
    with bundle.open(info) as member:
        while chunk := member.read(1 << 20):
            total += len(chunk)
            if total > budget:
                return None
            chunks.append(chunk)
    return b"".join(chunks)
