"""Where an invoice's files go in the object store, and its JSON manifest (no I/O here)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from intake.mail import Attachment, ParsedMail
from schemas.invoice import DocumentRef, DocumentRole


@dataclass(frozen=True)
class StoredFile:
    """Bytes to put under a key, and the reference the workflow gets."""

    ref: DocumentRef
    data: bytes


def invoice_id_for(org_id: str, dedupe_key: str) -> str:
    """The invoice id a dedupe key maps to: the same mail always starts the same workflow."""
    digest = hashlib.sha256(f"{org_id}\x00{dedupe_key}".encode()).hexdigest()
    return f"inv-{digest[:32]}"


def dedupe_key(mail: ParsedMail, raw: bytes) -> str:
    """The Message-ID when the mail has one, else the hash of its whole content."""
    if mail.message_id:
        return "mid:" + mail.message_id.strip().strip("<>").lower()[:290]
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _file(prefix: str, name: str, data: bytes, content_type: str, role: DocumentRole) -> StoredFile:
    ref = DocumentRef(
        key=f"{prefix}/{name}",
        filename=name,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        role=role,
    )
    return StoredFile(ref, data)


def invoice_files(
    invoice_id: str,
    attachments: list[Attachment],
    *,
    raw_mail: bytes | None,
    metadata: dict[str, str | None],
    received_at: datetime,
) -> tuple[list[StoredFile], StoredFile]:
    """The invoice's files under requests/{id}/documents/ and the manifest describing them."""
    prefix = f"requests/{invoice_id}/documents"
    files: list[StoredFile] = []
    if raw_mail is not None:
        files.append(_file(prefix, "mail.eml", raw_mail, "message/rfc822", "raw_mail"))
    taken: set[str] = set()
    for index, attachment in enumerate(attachments, start=1):
        name = attachment.filename
        if name in taken:  # two attachments with one name must not overwrite each other
            name = f"{index}-{name}"
        taken.add(name)
        files.append(_file(prefix, name, attachment.data, attachment.content_type, attachment.role))
    manifest = {
        "transaction_id": invoice_id,
        "received_at": received_at.isoformat(),
        "mail": metadata,
        "files": [f.ref.model_dump(mode="json") for f in files],
        "purchase_orders": [f.ref.filename for f in files if f.ref.role == "purchase_order"],
        "goods_receipts": [f.ref.filename for f in files if f.ref.role == "goods_receipt"],
    }
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    return files, _file(prefix, "manifest.json", body, "application/json", "other")
