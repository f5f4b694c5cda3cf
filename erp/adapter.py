"""The interface every ERP adapter implements, and how the configured one is loaded.

Adapters are plugins: a package declares an entry point in the `signoff.erp_adapters` group
whose object is a factory `(settings, engine) -> ErpAdapter`. Signoff ships `reference`, which
keeps the data in its own SQL tables.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Protocol, runtime_checkable

from sqlalchemy import Engine

from config.settings import Settings
from schemas.erp import (
    CustomerRecord,
    GoodsReceiptRecord,
    InvoicePosting,
    PostingReceipt,
    PurchaseOrderRecord,
    SupplierRecord,
)

ENTRY_POINT_GROUP = "signoff.erp_adapters"


class ErpRejected(Exception):
    """The ERP refused a posting for a business reason that retrying will not change."""


@runtime_checkable
class ErpAdapter(Protocol):
    """What Signoff asks of an ERP; every call is a read except post_invoice, which is
    idempotent on the invoice id. Calls block; activities run them in threads."""

    def find_supplier(
        self, org_id: str, *, name: str | None, vat_id: str | None, iban: str | None
    ) -> SupplierRecord | None:
        """The supplier matching the VAT id, IBAN or name (in that order of trust)."""

    def get_supplier(self, org_id: str, supplier_id: str) -> SupplierRecord | None:
        """The supplier with this id."""

    def supplier_domains(self, org_id: str) -> list[str]:
        """Every e-mail domain of the org's active suppliers (intake screens senders on them)."""

    def list_customers(self, org_id: str) -> list[CustomerRecord]:
        """The org's own entities invoices may be addressed to."""

    def find_purchase_order(self, org_id: str, number: str) -> PurchaseOrderRecord | None:
        """The purchase order with this number."""

    def find_goods_receipts(self, org_id: str, purchase_order_id: str) -> list[GoodsReceiptRecord]:
        """Every goods-received note against the purchase order."""

    def post_invoice(self, posting: InvoicePosting) -> PostingReceipt:
        """Record the approved invoice (once); ErpRejected when the ERP refuses it."""


AdapterFactory = Callable[[Settings, Engine], ErpAdapter]


class UnknownErpAdapter(LookupError):
    """No installed plugin has the configured adapter name."""


def load_erp_adapter(settings: Settings, engine: Engine) -> ErpAdapter:
    """The adapter named by settings.erp_adapter, built from its entry point."""
    found = entry_points(group=ENTRY_POINT_GROUP)
    for point in found:
        if point.name == settings.erp_adapter:
            factory: AdapterFactory = point.load()
            return factory(settings, engine)
    names = ", ".join(sorted(p.name for p in found)) or "none"
    raise UnknownErpAdapter(f"ERP adapter {settings.erp_adapter!r} is not installed ({names})")
