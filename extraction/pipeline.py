"""Reading one invoice in-process: embedded XML first, then the text layer, then OCR."""

from __future__ import annotations

from pdfplumber.pdf import PDF

from extraction.documents import Kind, UnreadableDocument, open_pdf, reader_errors, sniff
from extraction.einvoice import parse_einvoice
from extraction.embedded import embedded_xml
from extraction.layout import DocumentLayout, PageLayout
from extraction.limits import ExtractionLimits
from extraction.ocr import ocr_page
from extraction.reader import read_fields
from extraction.textlayer import has_text, read_page
from schemas.invoice_fields import (
    REQUIRED_FIELDS,
    ExtractionMethod,
    ExtractionReport,
    FieldSource,
    InvoiceFields,
)

_FIELD_NAMES = tuple(n for n in InvoiceFields.model_fields if n not in ("lines", "lines_source"))


def _missing(fields: InvoiceFields) -> list[str]:
    return [name for name in REQUIRED_FIELDS if getattr(fields, name) is None]


def _fill(first: InvoiceFields, then: InvoiceFields) -> InvoiceFields:
    """The first's fields, with the gaps filled from the second."""
    update = {n: getattr(then, n) for n in _FIELD_NAMES if getattr(first, n) is None}
    if not first.lines and then.lines:
        update |= {"lines": then.lines, "lines_source": then.lines_source}
    return first.model_copy(update=update)


def _xml_fields(data: bytes, warnings: list[str]) -> InvoiceFields | None:
    """The attached e-invoice's fields; a broken attachment is a warning, not a failure."""
    try:
        xml = embedded_xml(data)
        return parse_einvoice(xml) if xml else None
    except UnreadableDocument as error:
        warnings.append(f"attached XML ignored: {error.reason}")
        return None


class _Reader:
    """The pages of one PDF, read from text and, where needed, by OCR within the limits."""

    def __init__(self, pdf: PDF, limits: ExtractionLimits) -> None:
        self.pdf = pdf
        self.limits = limits
        self.warnings: list[str] = []
        with reader_errors():
            self.layouts = [
                read_page(page, i) if has_text(page) else PageLayout(i, page.width, page.height)
                for i, page in enumerate(pdf.pages)
            ]
        self.ocr_done: set[int] = set()

    def ocr(self, pages: list[int]) -> bool:
        """OCR these pages while the budget lasts; whether any new page was read."""
        read_any = False
        for number in pages:
            if number in self.ocr_done:
                continue
            if len(self.ocr_done) >= self.limits.ocr_max_pages:
                self.warnings.append(f"OCR stopped at {self.limits.ocr_max_pages} pages")
                break
            with reader_errors(f"page {number + 1}"):
                self.layouts[number] = ocr_page(self.pdf.pages[number], number)
            self.ocr_done.add(number)
            read_any = True
        return read_any

    def fields(self) -> InvoiceFields:
        """The fields of the pages as read so far."""
        found, warnings = read_fields(DocumentLayout(self.layouts), frozenset(self.ocr_done))
        self.warnings += [w for w in warnings if w not in self.warnings]
        return found


def _read_pdf(data: bytes, limits: ExtractionLimits) -> ExtractionReport:
    with open_pdf(data, limits) as pdf:
        warnings: list[str] = []
        xml = _xml_fields(data, warnings)
        reader = _Reader(pdf, limits)
        with reader_errors():
            pages = pdf.pages
            image_only = [i for i, p in enumerate(pages) if not has_text(p) and p.images]
            with_images = [i for i, p in enumerate(pages) if p.images and i not in image_only]
        reader.ocr(image_only)
        fields = reader.fields()
        if xml is not None:
            fields = _fill(xml, fields)
        # Text left a required field out (a logo, a scanned letterhead): OCR pages with images.
        if _missing(fields) and reader.ocr(with_images):
            fields = _fill(fields, reader.fields())
        if xml is not None:
            method = ExtractionMethod.XML
        elif reader.ocr_done and not _from_text(fields):
            method = ExtractionMethod.OCR
        else:
            method = ExtractionMethod.TEXT
        return ExtractionReport(
            fields=fields,
            method=method,
            pages=len(pages),
            ocr_pages=len(reader.ocr_done),
            warnings=warnings + reader.warnings,
        )


def _from_text(fields: InvoiceFields) -> bool:
    return any(
        getattr(fields, n) is not None and getattr(fields, n).source == FieldSource.TEXT
        for n in _FIELD_NAMES
    )


def extract_invoice(
    data: bytes, *, filename: str, limits: ExtractionLimits | None = None
) -> ExtractionReport:
    """Read an invoice (PDF, or UBL/CII XML) in this process; raises UnreadableDocument."""
    limits = limits or ExtractionLimits()
    if sniff(data, limits) is Kind.XML:
        fields = parse_einvoice(data)
        return ExtractionReport(fields=fields, method=ExtractionMethod.XML, pages=0)
    report = _read_pdf(data, limits)
    if not any(getattr(report.fields, n) for n in _FIELD_NAMES):
        report.warnings.append(f"nothing found in {filename}")
    return report
