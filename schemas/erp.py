"""What ERP adapters exchange with Signoff: suppliers, customers, purchase orders, receipts,
and the posting of an approved invoice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field


class SupplierRecord(BaseModel):
    """A supplier as the ERP knows it."""

    id: str
    name: str
    vat_id: str | None = None
    domains: list[str] = Field(default_factory=list)
    iban: str | None = None


class CustomerRecord(BaseModel):
    """One of the org's own entities that invoices may be addressed to."""

    id: str
    name: str
    aliases: list[str] = Field(default_factory=list)
    vat_id: str | None = None


class PurchaseOrderLine(BaseModel):
    """One ordered line: what, how many, at what unit price."""

    line: int = Field(ge=1)
    description: str = Field(min_length=1, max_length=1000)
    quantity: Decimal = Field(gt=0)
    unit_price: Decimal = Field(ge=0)


class PurchaseOrderRecord(BaseModel):
    """A purchase order as the ERP knows it."""

    id: str
    number: str
    supplier_id: str
    currency: str
    department: str | None = None
    total: Decimal
    status: str
    lines: list[PurchaseOrderLine]


class ReceivedLine(BaseModel):
    """How many of a purchase order line arrived."""

    line: int = Field(ge=1)
    quantity: Decimal = Field(ge=0)


class GoodsReceiptRecord(BaseModel):
    """A goods-received note against a purchase order."""

    id: str
    number: str
    purchase_order_id: str
    received_on: date
    lines: list[ReceivedLine]


class InvoicePosting(BaseModel):
    """An approved invoice to record in the ERP; invoice_id makes posting it twice harmless."""

    org_id: str
    invoice_id: str
    supplier_id: str
    invoice_number: str
    invoice_date: date | None = None
    due_date: date | None = None
    purchase_order_number: str | None = None
    currency: str
    total: Decimal
    subtotal: Decimal | None = None
    tax: Decimal | None = None


class PostingReceipt(BaseModel):
    """The ERP's document number for a posted invoice."""

    invoice_id: str
    document_number: str
