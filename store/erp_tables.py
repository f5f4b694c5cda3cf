"""The reference ERP's master data (suppliers, customers, purchase orders, goods receipts) and
the invoices posted to it, written through the API and the reference ERP adapter; and each
org's connection settings for a remote ERP."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.tables import _json, _when


def _money(nullable: bool = False) -> Any:
    return Field(sa_column=Column(Numeric(20, 4), nullable=nullable))


class Supplier(SQLModel, table=True):
    """A supplier an org buys from; invoices from it must come from one of its domains."""

    __tablename__ = "suppliers"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_supplier_name"),)

    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(index=True, max_length=64)
    name: str = Field(max_length=200)
    vat_id: str | None = Field(default=None, max_length=40, index=True)
    domains: list[str] = _json()
    iban: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)
    active: bool = True
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Customer(SQLModel, table=True):
    """One of the org's own legal entities that invoices are addressed to, with its aliases."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_customer_name"),)

    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(index=True, max_length=64)
    name: str = Field(max_length=200)
    aliases: list[str] = _json()
    vat_id: str | None = Field(default=None, max_length=40)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class PurchaseOrder(SQLModel, table=True):
    """A purchase order; lines are PurchaseOrderLine dicts (line, description, quantity,
    unit_price)."""

    __tablename__ = "purchase_orders"
    __table_args__ = (UniqueConstraint("org_id", "number", name="uq_purchase_order_number"),)

    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(index=True, max_length=64)
    number: str = Field(max_length=64)
    supplier_id: str = Field(index=True, max_length=64)
    currency: str = Field(max_length=3)
    department: str | None = Field(default=None, max_length=100)
    total: Decimal = _money()
    lines: list[dict[str, Any]] = _json()
    status: str = Field(default="OPEN", max_length=20)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class GoodsReceipt(SQLModel, table=True):
    """A goods-received note against a purchase order; lines are (line, quantity) dicts."""

    __tablename__ = "goods_receipts"
    __table_args__ = (UniqueConstraint("org_id", "number", name="uq_goods_receipt_number"),)

    id: str = Field(primary_key=True, max_length=64)
    org_id: str = Field(index=True, max_length=64)
    number: str = Field(max_length=64)
    purchase_order_id: str = Field(index=True, max_length=64)
    received_on: date
    lines: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _when()


class ErpPosting(SQLModel, table=True):
    """An approved invoice recorded in the reference ERP; one per invoice, however often the
    post is retried."""

    __tablename__ = "erp_postings"

    invoice_id: str = Field(primary_key=True, max_length=128)
    org_id: str = Field(index=True, max_length=64)
    document_number: str = Field(unique=True, max_length=64)
    supplier_id: str = Field(max_length=64)
    invoice_number: str = Field(max_length=100)
    purchase_order_number: str | None = Field(default=None, max_length=64)
    total: Decimal = _money()
    currency: str = Field(max_length=3)
    posted_at: datetime = _when()


class ErpConnection(SQLModel, table=True):
    """An org's connection to its ERP: which adapter, where, and its credentials (the secret
    stored encrypted by store.secret_box, opened only by erp.credentials inside an activity)."""

    __tablename__ = "erp_connections"

    org_id: str = Field(primary_key=True, max_length=64)
    adapter: str = Field(max_length=64)
    base_url: str = Field(max_length=2000)
    username: str | None = Field(default=None, max_length=320)
    # Sealed like Mailbox.secret: 500 characters of password seal to at most ~2,750.
    secret: str = Field(max_length=3000)
    updated_by: str = Field(max_length=64)
    updated_at: datetime = _when()
