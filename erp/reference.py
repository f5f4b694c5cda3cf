"""The reference ERP: suppliers, customers, purchase orders, goods receipts and postings kept in
Signoff's own SQL tables (filled through the API and its CSV imports)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process
from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from config.settings import Settings
from erp.adapter import ErpAdapter, ErpRejected
from erp.identifiers import comparable_name, core_name, normalize_iban, normalize_vat_id
from schemas.erp import (
    CustomerRecord,
    GoodsReceiptRecord,
    InvoicePosting,
    PostingReceipt,
    PurchaseOrderRecord,
    SupplierRecord,
)
from store.db import transaction
from store.erp_tables import Customer, ErpPosting, GoodsReceipt, PurchaseOrder, Supplier

log = logging.getLogger(__name__)

FUZZY_THRESHOLD = 90.0
DOCUMENT_PREFIX = "AP-"
_DOCUMENT_NUMBER = re.compile(rf"^{DOCUMENT_PREFIX}(\d+)$")
# Two postings of different invoices at the same moment may pick the same next number; the
# loser takes the one after. More collisions than this in a row mean something else is wrong.
_NUMBER_ATTEMPTS = 10
_MAX_TOTAL = Decimal(10) ** 16  # what Numeric(20, 4) holds


def supplier_record(row: Supplier) -> SupplierRecord:
    """The adapter's view of a supplier row."""
    return SupplierRecord(
        id=row.id, name=row.name, vat_id=row.vat_id, domains=row.domains, iban=row.iban
    )


def purchase_order_record(row: PurchaseOrder) -> PurchaseOrderRecord:
    """The adapter's view of a purchase order row (its JSON lines parsed)."""
    return PurchaseOrderRecord.model_validate(row, from_attributes=True)


def goods_receipt_record(row: GoodsReceipt) -> GoodsReceiptRecord:
    """The adapter's view of a goods receipt row."""
    return GoodsReceiptRecord.model_validate(row, from_attributes=True)


def _unique(rows: Sequence[Supplier], name: str | None) -> Supplier | None:
    """The one row, or among several the one the name picks out; None when still ambiguous."""
    if len(rows) == 1:
        return rows[0]
    if len(rows) > 1 and name:
        return _by_name(rows, name)
    return None


def _by_name(rows: Sequence[Supplier], name: str) -> Supplier | None:
    """Exact name (any case), then the same name without legal form, then the best fuzzy
    match; a tie between different suppliers is no match."""
    wanted = comparable_name(name)
    exact = [r for r in rows if comparable_name(r.name) == wanted]
    if exact:
        return exact[0] if len(exact) == 1 else None
    core = core_name(name)
    if not core:
        return None
    same_core = [r for r in rows if core_name(r.name) == core]
    if same_core:
        return same_core[0] if len(same_core) == 1 else None
    scored = [
        (fuzz.token_set_ratio(core, core_name(r.name), processor=default_process), r) for r in rows
    ]
    best = max((score for score, _ in scored), default=0.0)
    if best < FUZZY_THRESHOLD:
        return None
    winners = [r for score, r in scored if score == best]
    return winners[0] if len(winners) == 1 else None


class ReferenceErpAdapter:
    """The ErpAdapter over Signoff's own tables; every call opens its own session."""

    def __init__(self, engine: Engine) -> None:
        """Work on this database."""
        self.engine = engine

    def find_supplier(
        self, org_id: str, *, name: str | None, vat_id: str | None, iban: str | None
    ) -> SupplierRecord | None:
        """The active supplier matching the VAT id, else the IBAN, else the name."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(Supplier).where(col(Supplier.org_id) == org_id, col(Supplier.active))
            ).all()
        # Compared in Python, not SQL: both sides are normalised, whatever wrote the rows.
        if vat_id and (vat := normalize_vat_id(vat_id)):
            hit = _unique([r for r in rows if r.vat_id and normalize_vat_id(r.vat_id) == vat], name)
            if hit is not None:
                return supplier_record(hit)
        if iban and (account := normalize_iban(iban)):
            hit = _unique([r for r in rows if r.iban and normalize_iban(r.iban) == account], name)
            if hit is not None:
                return supplier_record(hit)
        if name:
            hit = _by_name(rows, name)
            if hit is not None:
                return supplier_record(hit)
        return None

    def get_supplier(self, org_id: str, supplier_id: str) -> SupplierRecord | None:
        """The active supplier with this id; a deactivated one is not to be paid any more."""
        with Session(self.engine) as session:
            row = self._active_supplier(session, org_id, supplier_id)
            return supplier_record(row) if row else None

    def supplier_domains(self, org_id: str) -> list[str]:
        """Every e-mail domain of the org's active suppliers, sorted, each once."""
        with Session(self.engine) as session:
            lists = session.exec(
                select(Supplier.domains).where(col(Supplier.org_id) == org_id, col(Supplier.active))
            ).all()
        return sorted({domain.lower() for domains in lists for domain in domains})

    def list_customers(self, org_id: str) -> list[CustomerRecord]:
        """The org's own entities, by name."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(Customer)
                .where(col(Customer.org_id) == org_id)
                .order_by(col(Customer.name), col(Customer.id))
            ).all()
        return [CustomerRecord.model_validate(r, from_attributes=True) for r in rows]

    def find_purchase_order(self, org_id: str, number: str) -> PurchaseOrderRecord | None:
        """The purchase order with this number; a number in another case if only one fits."""
        wanted = number.strip()
        if not wanted or "\x00" in wanted:  # text read from a PDF may hold a NUL; SQL cannot
            return None
        with Session(self.engine) as session:
            scoped = select(PurchaseOrder).where(col(PurchaseOrder.org_id) == org_id)
            row = session.exec(scoped.where(col(PurchaseOrder.number) == wanted)).first()
            if row is None:
                # Invoices often print "po-123" for "PO-123".
                similar = session.exec(
                    scoped.where(func.lower(col(PurchaseOrder.number)) == wanted.lower()).limit(2)
                ).all()
                row = similar[0] if len(similar) == 1 else None
            return purchase_order_record(row) if row else None

    def find_goods_receipts(self, org_id: str, purchase_order_id: str) -> list[GoodsReceiptRecord]:
        """Every goods-received note against the purchase order, oldest first."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(GoodsReceipt)
                .where(
                    col(GoodsReceipt.org_id) == org_id,
                    col(GoodsReceipt.purchase_order_id) == purchase_order_id,
                )
                .order_by(col(GoodsReceipt.received_on), col(GoodsReceipt.number))
            ).all()
        return [goods_receipt_record(r) for r in rows]

    def post_invoice(self, posting: InvoicePosting) -> PostingReceipt:
        """Record the invoice under the next AP- number, once: a retry, even a concurrent one,
        answers the number of the first; ErpRejected for an unknown supplier or a PO that is
        not open."""
        existing = self._posted(posting)
        if existing is not None:
            return existing
        self._check(posting)
        for _ in range(_NUMBER_ATTEMPTS):
            try:
                with transaction(self.engine) as session:
                    number = self._next_number(session)
                    session.add(self._posting_row(posting, number))
                return PostingReceipt(invoice_id=posting.invoice_id, document_number=number)
            except IntegrityError:
                # Either a retry of this invoice got in first (its number wins) or another
                # invoice took the number (try the next one).
                existing = self._posted(posting)
                if existing is not None:
                    return existing
        raise RuntimeError(f"no free document number after {_NUMBER_ATTEMPTS} attempts")

    def _active_supplier(self, session: Session, org_id: str, supplier_id: str) -> Supplier | None:
        row = session.get(Supplier, supplier_id)
        return row if row is not None and row.org_id == org_id and row.active else None

    def _posted(self, posting: InvoicePosting) -> PostingReceipt | None:
        with Session(self.engine) as session:
            row = session.get(ErpPosting, posting.invoice_id)
        if row is None:
            return None
        if row.org_id != posting.org_id:
            raise ErpRejected(f"invoice {posting.invoice_id} was posted by another org")
        return PostingReceipt(invoice_id=row.invoice_id, document_number=row.document_number)

    def _check(self, posting: InvoicePosting) -> None:
        """Refuse what the ERP would never accept, before a number is spent on it."""
        if len(posting.invoice_id) > 128:
            raise ErpRejected("the invoice id is longer than 128 characters")
        if len(posting.invoice_number) > 100 or not posting.invoice_number.strip():
            raise ErpRejected("the invoice number is empty or longer than 100 characters")
        texts = (posting.invoice_id, posting.invoice_number, posting.purchase_order_number or "")
        if any("\x00" in text for text in texts):
            raise ErpRejected("the invoice number or purchase order number holds a NUL character")
        if not re.fullmatch(r"[A-Z]{3}", posting.currency):
            raise ErpRejected(f"{posting.currency!r} is not a currency code")
        if abs(posting.total) >= _MAX_TOTAL:
            raise ErpRejected("the invoice total is too large")
        with Session(self.engine) as session:
            supplier = self._active_supplier(session, posting.org_id, posting.supplier_id)
            if supplier is None:
                raise ErpRejected(f"supplier {posting.supplier_id} does not exist or is inactive")
            if posting.purchase_order_number is None:
                return
            order = session.exec(
                select(PurchaseOrder).where(
                    col(PurchaseOrder.org_id) == posting.org_id,
                    col(PurchaseOrder.number) == posting.purchase_order_number,
                )
            ).first()
        if order is None:
            raise ErpRejected(f"purchase order {posting.purchase_order_number} does not exist")
        if order.status != "OPEN":
            raise ErpRejected(f"purchase order {order.number} is {order.status}, not OPEN")
        if order.supplier_id != posting.supplier_id:
            raise ErpRejected(f"purchase order {order.number} is for another supplier")

    def _next_number(self, session: Session) -> str:
        # Longest first, then highest: "AP-1000000" comes after "AP-999999".
        last = session.exec(
            select(ErpPosting.document_number)
            .where(col(ErpPosting.document_number).startswith(DOCUMENT_PREFIX))
            .order_by(
                func.length(col(ErpPosting.document_number)).desc(),
                col(ErpPosting.document_number).desc(),
            )
            .limit(1)
        ).first()
        matched = _DOCUMENT_NUMBER.match(last or "")
        following = int(matched.group(1)) + 1 if matched else 1
        return f"{DOCUMENT_PREFIX}{following:06d}"

    @staticmethod
    def _posting_row(posting: InvoicePosting, number: str) -> ErpPosting:
        return ErpPosting(
            invoice_id=posting.invoice_id,
            org_id=posting.org_id,
            document_number=number,
            supplier_id=posting.supplier_id,
            invoice_number=posting.invoice_number.strip(),
            purchase_order_number=posting.purchase_order_number,
            total=posting.total.quantize(Decimal("0.0001")),
            currency=posting.currency,
            posted_at=datetime.now(UTC),
        )


def create_reference_adapter(settings: Settings, engine: Engine) -> ErpAdapter:
    """The entry point `reference` of the signoff.erp_adapters group."""
    return ReferenceErpAdapter(engine)
