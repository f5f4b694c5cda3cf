"""The fields read from an invoice, each with where it came from and how sure the reader is."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class FieldSource(StrEnum):
    """Where a field's value was read: embedded XML, the PDF's text, OCR, or a person."""

    XML = "xml"
    TEXT = "text"
    OCR = "ocr"
    MANUAL = "manual"


class Extracted(BaseModel, Generic[T]):
    """One field's value with its source and a confidence between 0 and 1."""

    value: T
    source: FieldSource
    confidence: float = Field(ge=0.0, le=1.0)


class InvoiceLine(BaseModel):
    """One line of an invoice; anything the document does not show is None."""

    description: str = Field(max_length=1000)
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None


class InvoiceFields(BaseModel):
    """Every field Signoff reads from an invoice; a field not found is None."""

    invoice_number: Extracted[str] | None = None
    invoice_date: Extracted[date] | None = None
    due_date: Extracted[date] | None = None
    currency: Extracted[str] | None = None  # ISO 4217 code, e.g. "EUR"
    total: Extracted[Decimal] | None = None
    subtotal: Extracted[Decimal] | None = None
    tax: Extracted[Decimal] | None = None
    supplier_name: Extracted[str] | None = None
    supplier_vat_id: Extracted[str] | None = None
    customer_name: Extracted[str] | None = None
    po_number: Extracted[str] | None = None
    iban: Extracted[str] | None = None
    lines: list[InvoiceLine] = Field(default_factory=list)
    lines_source: FieldSource | None = None


# Without these an invoice cannot be validated; OCR is tried when text leaves one missing.
REQUIRED_FIELDS: tuple[str, ...] = ("invoice_number", "invoice_date", "total", "supplier_name")


class ExtractionMethod(StrEnum):
    """How the document was read, in the order they are tried."""

    XML = "xml"
    TEXT = "text"
    OCR = "ocr"


class ExtractionReport(BaseModel):
    """The fields of one invoice document and how they were read."""

    fields: InvoiceFields
    method: ExtractionMethod
    pages: int = Field(ge=0)
    ocr_pages: int = Field(default=0, ge=0)
    warnings: list[str] = Field(default_factory=list)
