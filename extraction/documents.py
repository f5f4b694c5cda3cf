"""Checking a document before reading it, and turning every reader failure into one error.

Bytes from an upload are untrusted: anything the PDF libraries raise on them becomes an
UnreadableDocument with a code the caller can show or act on.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

import pdfplumber
from pdfminer.pdfdocument import PDFPasswordIncorrect
from pdfplumber.pdf import PDF

from extraction.limits import ExtractionLimits

# The header may follow some junk; readers accept it within the first kilobyte.
_HEADER_WINDOW = 1024


class Kind(StrEnum):
    """What the bytes are: a PDF or an XML e-invoice."""

    PDF = "pdf"
    XML = "xml"


class UnreadableDocument(Exception):
    """The document cannot be read; code is one of not_pdf, empty, too_large, encrypted,
    corrupt, too_many_pages, too_complex, unsupported_xml."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.reason = reason
        self.code = code

    def __reduce__(self) -> tuple[type[UnreadableDocument], tuple[str, str]]:
        # Pickles with both arguments, to cross from the worker process.
        return (UnreadableDocument, (self.reason, self.code))


def sniff(data: bytes, limits: ExtractionLimits) -> Kind:
    """Check size and magic bytes; a PDF or an XML document passes, anything else raises."""
    if not data:
        raise UnreadableDocument("the document has no bytes", "empty")
    if len(data) > limits.max_bytes:
        raise UnreadableDocument(
            f"{len(data)} bytes is more than the {limits.max_bytes} allowed", "too_large"
        )
    if b"%PDF-" in data[:_HEADER_WINDOW]:
        return Kind.PDF
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        return Kind.XML
    raise UnreadableDocument("the document is not a PDF (no %PDF- header)", "not_pdf")


@contextmanager
def reader_errors(what: str = "the PDF") -> Iterator[None]:
    """Turn any failure of a reading library into UnreadableDocument."""
    try:
        yield
    except UnreadableDocument:
        raise
    except Exception as error:
        if _caused_by(error, (MemoryError, RecursionError)):
            raise UnreadableDocument(f"{what} needs too much to read", "too_complex") from error
        if _caused_by(error, (PDFPasswordIncorrect,)):
            raise UnreadableDocument(f"{what} is protected by a password", "encrypted") from error
        raise UnreadableDocument(f"{what} cannot be parsed: {error!r:.200}", "corrupt") from error


def _caused_by(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    """Whether the error is one of these kinds or wraps one: pdfplumber puts pdfminer's
    exception in its own exception's arguments."""
    causes = [error, *error.args, error.__cause__, error.__context__]
    return any(isinstance(c, kinds) for c in causes)


@contextmanager
def open_pdf(data: bytes, limits: ExtractionLimits) -> Iterator[PDF]:
    """The parsed PDF after its page count is checked; parse errors become UnreadableDocument."""
    with reader_errors():
        pdf = pdfplumber.open(io.BytesIO(data))
    try:
        with reader_errors():
            pages = len(pdf.pages)
        if pages == 0:
            raise UnreadableDocument("the PDF has no pages", "empty")
        if pages > limits.max_pages:
            raise UnreadableDocument(
                f"{pages} pages is more than the {limits.max_pages} allowed", "too_many_pages"
            )
        yield pdf
    finally:
        with reader_errors():
            pdf.close()
