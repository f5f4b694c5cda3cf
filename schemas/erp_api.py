"""The API's contract for the reference ERP's master data: suppliers, customers, purchase orders
and goods receipts, their pages, and what a CSV import answers.

Input is checked to fit the columns it is stored in, and identifiers are stored normalised
(VAT ids and IBANs upper case without separators, domains as lower-case host names), so the
ERP adapter compares like with like.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, ClassVar, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from erp.identifiers import check_domain, check_iban, check_vat_id, comparable_name
from schemas.auth import Email
from schemas.erp import PurchaseOrderLine, ReceivedLine

T = TypeVar("T")


def _printable(value: str) -> str:
    """Control characters (a NUL above all, which PostgreSQL refuses) are no part of a name."""
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise ValueError("control characters are not allowed")
    return value


def _length(max_length: int) -> StringConstraints:
    """Stripped, not empty, within the column's size."""
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


_PRINTABLE = AfterValidator(_printable)
Name = Annotated[str, _length(200), _PRINTABLE]
Department = Annotated[str, _length(100), _PRINTABLE]
Description = Annotated[str, _length(1000), _PRINTABLE]
DocumentNumber = Annotated[str, _length(64), _PRINTABLE]
# Ids are made by Signoff; anything longer than the column cannot name a row.
RowId = Annotated[str, StringConstraints(min_length=1, max_length=64), _PRINTABLE]
# schemas.auth's e-mail pattern lets a NUL through in the local part.
MailAddress = Annotated[Email, _PRINTABLE]
VatId = Annotated[str, StringConstraints(max_length=60), AfterValidator(check_vat_id)]
Iban = Annotated[str, StringConstraints(max_length=60), AfterValidator(check_iban)]
Domain = Annotated[str, StringConstraints(max_length=255), AfterValidator(check_domain)]
Currency = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{3}$"), Field(description="ISO 4217 code, e.g. EUR")
]


def _plain(value: Decimal) -> Decimal:
    """1E+3 is stored and shown as 1000."""
    return Decimal(format(value, "f"))


Quantity = Annotated[Decimal, Field(gt=0, le=10**9, decimal_places=4), AfterValidator(_plain)]
UnitPrice = Annotated[Decimal, Field(ge=0, le=10**9, decimal_places=4), AfterValidator(_plain)]
LineNumber = Annotated[int, Field(ge=1, le=100_000)]
MAX_TOTAL = Decimal(10) ** 16  # what Numeric(20, 4) holds
CENT = Decimal("0.0001")


def _unique_domains(domains: list[str]) -> list[str]:
    return sorted(set(domains))


def _unique_aliases(aliases: list[str]) -> list[str]:
    """Aliases once each, whatever their case; the first spelling is kept."""
    seen: dict[str, str] = {}
    for alias in aliases:
        seen.setdefault(comparable_name(alias), alias)
    return list(seen.values())


Domains = Annotated[list[Domain], Field(max_length=50), AfterValidator(_unique_domains)]
Aliases = Annotated[list[Name], Field(max_length=50), AfterValidator(_unique_aliases)]


class _Input(BaseModel):
    """Unknown fields are refused: a misspelt field must not be silently dropped."""

    model_config = ConfigDict(extra="forbid")


class _Patch(_Input):
    """A PATCH body: fields left out stay; null clears only the fields that may be empty."""

    not_null: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _nulls_only_where_allowed(self) -> _Patch:
        for name in self.not_null:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Page(BaseModel, Generic[T]):
    """One page of a list, the total across all pages, and the page's bounds."""

    items: list[T]
    total: int
    limit: int
    offset: int


# ---- suppliers ------------------------------------------------------------------------------


class SupplierIn(_Input):
    """A supplier; invoices from it must come from one of its e-mail domains."""

    name: Name = Field(description="Unique in the org, compared case-insensitively.")
    vat_id: VatId | None = Field(default=None, examples=["DE123456789"])
    domains: Domains = Field(default_factory=list, examples=[["acme.example"]])
    iban: Iban | None = Field(default=None, examples=["DE89370400440532013000"])
    email: MailAddress | None = None


class SupplierPatch(_Patch):
    """Changes to a supplier; fields left out stay, null clears vat_id, iban or email."""

    not_null = ("name", "domains", "active")

    name: Name | None = None
    vat_id: VatId | None = None
    domains: Domains | None = None
    iban: Iban | None = None
    email: MailAddress | None = None
    active: bool | None = Field(default=None, description="false deactivates, true reactivates")


class SupplierOut(BaseModel):
    """A supplier as the API shows it."""

    id: str
    name: str
    vat_id: str | None
    domains: list[str]
    iban: str | None
    email: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


# ---- customers ------------------------------------------------------------------------------


class CustomerIn(_Input):
    """One of the org's own entities that invoices are addressed to."""

    name: Name = Field(description="Unique in the org, compared case-insensitively.")
    aliases: Aliases = Field(default_factory=list, examples=[["ACME", "Acme Corporation"]])
    vat_id: VatId | None = None


class CustomerPatch(_Patch):
    """Changes to a customer; fields left out stay, null clears vat_id."""

    not_null = ("name", "aliases")

    name: Name | None = None
    aliases: Aliases | None = None
    vat_id: VatId | None = None


class CustomerOut(BaseModel):
    """A customer as the API shows it."""

    id: str
    name: str
    aliases: list[str]
    vat_id: str | None
    created_at: datetime
    updated_at: datetime


# ---- purchase orders and receipts -----------------------------------------------------------

PurchaseOrderStatus = Literal["OPEN", "CLOSED", "CANCELLED"]


class PurchaseOrderLineIn(_Input):
    """One ordered line."""

    line: LineNumber
    description: Description
    quantity: Quantity
    unit_price: UnitPrice


def order_total(lines: Sequence[PurchaseOrderLineIn | PurchaseOrderLine]) -> Decimal:
    """The order's total: quantity times unit price over its lines, to 4 decimals."""
    return sum((ln.quantity * ln.unit_price for ln in lines), Decimal(0)).quantize(CENT)


def check_order_lines(lines: Sequence[PurchaseOrderLineIn]) -> None:
    """ValueError unless line numbers are unique and the total fits."""
    numbers = [ln.line for ln in lines]
    if len(set(numbers)) != len(numbers):
        raise ValueError("line numbers must be unique")
    if order_total(lines) >= MAX_TOTAL:
        raise ValueError(f"the order total must be less than {MAX_TOTAL}")


class PurchaseOrderHead(_Input):
    """What a purchase order says besides its supplier and lines."""

    number: DocumentNumber = Field(description="Unique in the org.")
    currency: Currency
    department: Department | None = None


class PurchaseOrderIn(PurchaseOrderHead):
    """A new purchase order; its total is worked out from the lines."""

    supplier_id: RowId = Field(description="An active supplier of the org.")
    lines: list[PurchaseOrderLineIn] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _lines_fit(self) -> PurchaseOrderIn:
        check_order_lines(self.lines)
        return self


class PurchaseOrderPatch(_Patch):
    """Changes to a purchase order that is not cancelled; fields left out stay, null clears
    department. New lines must still cover what was received."""

    not_null = ("number", "supplier_id", "currency", "lines", "status")

    number: DocumentNumber | None = None
    supplier_id: RowId | None = None
    currency: Currency | None = None
    department: Department | None = None
    lines: list[PurchaseOrderLineIn] | None = Field(default=None, min_length=1, max_length=1000)
    status: Literal["OPEN", "CLOSED"] | None = Field(
        default=None, description="Close or reopen; DELETE cancels."
    )

    @model_validator(mode="after")
    def _lines_fit(self) -> PurchaseOrderPatch:
        if self.lines is not None:
            check_order_lines(self.lines)
        return self


class PurchaseOrderOut(BaseModel):
    """A purchase order as the API shows it."""

    id: str
    number: str
    supplier_id: str
    currency: str
    department: str | None
    total: Decimal
    status: PurchaseOrderStatus
    lines: list[PurchaseOrderLine]
    created_at: datetime
    updated_at: datetime


def _not_far_ahead(day: date) -> date:
    # A day of slack: the receiving warehouse may be a time zone ahead of the server.
    if day > datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError("goods cannot be received in the future")
    if day.year < 2000:
        raise ValueError("the date is before 2000")
    return day


class ReceivedLineIn(_Input):
    """How many of a purchase order line arrived."""

    line: LineNumber
    quantity: Quantity


class GoodsReceiptIn(_Input):
    """A goods-received note; every line must be on the order and stay within what was
    ordered, counting earlier receipts."""

    number: DocumentNumber = Field(description="Unique in the org.")
    received_on: Annotated[date, AfterValidator(_not_far_ahead)]
    lines: list[ReceivedLineIn] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _unique_lines(self) -> GoodsReceiptIn:
        numbers = [ln.line for ln in self.lines]
        if len(set(numbers)) != len(numbers):
            raise ValueError("line numbers must be unique")
        return self


class GoodsReceiptOut(BaseModel):
    """A goods-received note as the API shows it."""

    id: str
    number: str
    purchase_order_id: str
    received_on: date
    lines: list[ReceivedLine]
    created_at: datetime


# ---- CSV imports ----------------------------------------------------------------------------


class ImportRowError(BaseModel):
    """Why one row of an imported file was refused; row 1 is the header."""

    row: int
    column: str | None = None
    message: str


class ImportResult(BaseModel):
    """What an import did (or, with dry_run, would do)."""

    rows: int = Field(description="Data rows read (the header not counted).")
    created: int
    updated: int
    dry_run: bool
