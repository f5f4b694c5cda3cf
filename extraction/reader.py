"""All field finders run over one laid-out document (text layer or OCR) into InvoiceFields."""

from __future__ import annotations

from typing import TypeVar

from extraction import fields, parties
from extraction.amounts import currencies_in
from extraction.dates import infer_day_first
from extraction.layout import DocumentLayout
from extraction.line_items import find_lines
from extraction.proximity import Candidate
from extraction.totals import find_totals
from schemas.invoice_fields import Extracted, FieldSource, InvoiceFields

T = TypeVar("T")

# OCR may misread a character even in a well-placed value.
_SOURCE_FACTOR = {FieldSource.TEXT: 1.0, FieldSource.OCR: 0.85}


def _extracted(found: Candidate[T] | None, ocr_pages: frozenset[int]) -> Extracted[T] | None:
    """The candidate as a field, its source told by the page its value was read on."""
    if found is None:
        return None
    source = FieldSource.OCR if found.segment.page in ocr_pages else FieldSource.TEXT
    confidence = max(0.0, min(1.0, found.score * _SOURCE_FACTOR[source]))
    return Extracted[T](value=found.value, source=source, confidence=round(confidence, 3))


def read_fields(
    doc: DocumentLayout, ocr_pages: frozenset[int] = frozenset()
) -> tuple[InvoiceFields, list[str]]:
    """Every field the finders can read from the document, and warnings about assumptions;
    ocr_pages are the pages whose words came from OCR."""
    texts = [s.text for s in doc.segments()]
    named = currencies_in(texts)
    # US documents write 03/20/2023; elsewhere 20/03/2023 is the habit.
    usd = bool(named) and named.most_common(1)[0][0] == "USD"
    day_first = infer_day_first(texts, default=not usd)
    totals = find_totals(doc)
    lines = find_lines(doc)
    result = InvoiceFields(
        invoice_number=_extracted(fields.invoice_number(doc), ocr_pages),
        invoice_date=_extracted(fields.invoice_date(doc, day_first), ocr_pages),
        due_date=_extracted(fields.due_date(doc, day_first), ocr_pages),
        currency=_extracted(fields.currency(doc, totals.total), ocr_pages),
        total=_extracted(totals.total, ocr_pages),
        subtotal=_extracted(totals.subtotal, ocr_pages),
        tax=_extracted(totals.tax, ocr_pages),
        supplier_name=_extracted(parties.supplier_name(doc), ocr_pages),
        supplier_vat_id=_extracted(fields.supplier_vat_id(doc), ocr_pages),
        customer_name=_extracted(parties.customer_name(doc), ocr_pages),
        po_number=_extracted(fields.po_number(doc), ocr_pages),
        iban=_extracted(fields.iban(doc), ocr_pages),
        lines=lines,
        lines_source=(FieldSource.OCR if ocr_pages else FieldSource.TEXT) if lines else None,
    )
    return result, totals.warnings
