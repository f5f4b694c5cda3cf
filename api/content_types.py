"""What an uploaded file really is, judged by its bytes and never by its name."""

from __future__ import annotations

import re

import filetype

# Binary formats recognised by their magic numbers.
_BINARY = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/tiff": "tif",
    "image/gif": "gif",
    "image/webp": "webp",
}


def sniff(data: bytes) -> str | None:
    """The content type of an allowed document, or None for anything else."""
    if not data:
        return None
    kind = filetype.guess(data)
    if kind is not None:
        return kind.mime if kind.mime in _BINARY else None
    return _text_type(data)


# Markup a browser would render (and run): refused even inside "XML" or "plain text".
_ACTIVE_MARKUP = re.compile(
    r"<\s*(?:!--|!doctype\s+html|html|head|body|script|iframe|frame|svg|object|embed|meta|"
    r"link|style|img|a|div|span|p|table|form|input|base)\b|xhtml",
    re.IGNORECASE,
)


def _text_type(data: bytes) -> str | None:
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    head = text.lstrip()[:4096]
    if _ACTIVE_MARKUP.search(head):
        return None
    if head.startswith("<?xml") or (head.startswith("<") and "xmlns" in head[:1000]):
        return "application/xml"
    if head.startswith("<"):
        return None  # markup that is not declared XML: treat it as a page, not a document
    return "text/plain"


def extension_for(content_type: str) -> str:
    """A file extension that matches the detected type."""
    return _BINARY.get(content_type) or {"application/xml": "xml"}.get(content_type, "txt")
