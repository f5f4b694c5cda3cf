"""The validation checks of an invoice, given what the ERP returned: pure functions.

Each check answers passed, warning (the approval routes on it) or error (the invoice parks).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rapidfuzz import fuzz, utils

from schemas.erp import (
    CustomerRecord,
    GoodsReceiptRecord,
    PurchaseOrderLine,
    PurchaseOrderRecord,
    SupplierRecord,
)
from schemas.invoice import CheckResult, InvoicePolicy
from schemas.invoice_fields import InvoiceFields, InvoiceLine

# A customer name this close (0-100, rapidfuzz token set ratio) to one of the org's names passes;
# between the two it is a warning that routes the approval to a closer look.
CUSTOMER_MATCH = 90.0
CUSTOMER_NEAR = 75.0
# An invoice line describes an order line when their descriptions score this much.
LINE_MATCH = 70.0


def passed(name: str, message: str) -> CheckResult:
    """A passed check."""
    return CheckResult(name=name, outcome="passed", message=message)


def warning(name: str, message: str) -> CheckResult:
    """A check that passed with a doubt."""
    return CheckResult(name=name, outcome="warning", message=message)


def error(name: str, message: str) -> CheckResult:
    """A failed check: the invoice parks."""
    return CheckResult(name=name, outcome="error", message=message)


def required_fields(fields: InvoiceFields) -> CheckResult:
    """The fields validation and posting need are there."""
    missing = [
        name
        for name in ("invoice_number", "total", "currency", "supplier_name")
        if getattr(fields, name) is None
    ]
    if missing:
        return error("required_fields", f"missing {', '.join(missing)}")
    return passed("required_fields", "invoice number, total, currency and supplier are present")


def supplier_known(supplier: SupplierRecord | None, fields: InvoiceFields) -> CheckResult:
    """The supplier exists in the ERP."""
    if supplier is None:
        name = fields.supplier_name.value if fields.supplier_name else "(no name)"
        vat = f", VAT id {fields.supplier_vat_id.value}" if fields.supplier_vat_id else ""
        return error("supplier", f"no supplier in the ERP matches {name}{vat}")
    return passed("supplier", f"supplier {supplier.name}")


def sender_domain(supplier: SupplierRecord, sender: str | None) -> CheckResult:
    """A mailed invoice comes from one of its supplier's domains (uploads are not checked)."""
    if sender is None:
        return passed("sender_domain", "uploaded by hand: no sender to check")
    domain = sender.rpartition("@")[2].lower().strip(">").strip()
    allowed = [d.lower() for d in supplier.domains]
    if any(domain == d or domain.endswith("." + d) for d in allowed):
        return passed("sender_domain", f"sent from {domain}")
    known = ", ".join(allowed) or "none on record"
    return error("sender_domain", f"sent from {domain}, not a domain of {supplier.name} ({known})")


def customer_name(
    fields: InvoiceFields, org_name: str, customers: Sequence[CustomerRecord]
) -> CheckResult:
    """The invoice is addressed to the org, under its name or an alias (fuzzy)."""
    if fields.customer_name is None:
        return warning("customer_name", "the invoice names no customer")
    written = fields.customer_name.value
    names = [org_name] + [n for c in customers for n in (c.name, *c.aliases)]
    best_name, best = max(
        ((n, fuzz.token_set_ratio(written, n, processor=utils.default_process)) for n in names),
        key=lambda pair: pair[1],
    )
    if best >= CUSTOMER_MATCH:
        return passed("customer_name", f"addressed to {best_name}")
    if best >= CUSTOMER_NEAR:
        return warning("customer_name", f"{written!r} resembles {best_name!r} ({best:.0f} %)")
    return error("customer_name", f"addressed to {written!r}, not to this organisation")


def not_duplicate(holder: str | None, invoice_id: str, number: str) -> CheckResult:
    """No other invoice of this supplier carries this number."""
    if holder is not None and holder != invoice_id:
        return error("duplicate", f"invoice number {number} of this supplier is already {holder}")
    return passed("duplicate", f"invoice number {number} is new for this supplier")


def totals_add_up(fields: InvoiceFields, tolerance: Decimal) -> CheckResult:
    """Subtotal plus tax is the total, and the lines add up to the subtotal, when shown."""
    problems: list[str] = []
    total = fields.total.value if fields.total else None
    subtotal = fields.subtotal.value if fields.subtotal else None
    tax = fields.tax.value if fields.tax else None
    if (
        total is not None
        and subtotal is not None
        and tax is not None
        and abs(subtotal + tax - total) > tolerance
    ):
        problems.append(f"subtotal {subtotal} + tax {tax} is not the total {total}")
    amounts = [line.amount for line in fields.lines if line.amount is not None]
    target = subtotal if subtotal is not None else (total if tax is None else None)
    if amounts and len(amounts) == len(fields.lines) and target is not None:
        lines_sum = sum(amounts, Decimal(0))
        if abs(lines_sum - target) > tolerance:
            problems.append(f"the lines add up to {lines_sum}, not {target}")
    if problems:
        return error("totals", "; ".join(problems))
    return passed("totals", "the amounts add up")


def three_way_match(
    fields: InvoiceFields,
    supplier: SupplierRecord,
    order: PurchaseOrderRecord | None,
    receipts: Sequence[GoodsReceiptRecord],
    policy: InvoicePolicy,
) -> CheckResult:
    """Invoice, purchase order and goods received agree on quantities and prices."""
    if fields.po_number is None:
        return warning("purchase_order", "the invoice names no purchase order")
    number = fields.po_number.value
    if order is None:
        return error("purchase_order", f"purchase order {number} does not exist")
    if order.supplier_id != supplier.id:
        return error("purchase_order", f"purchase order {number} is not from {supplier.name}")
    if order.status != "OPEN":
        return error("purchase_order", f"purchase order {number} is {order.status}")
    if not receipts:
        return error("purchase_order", f"nothing has been received against {number}")
    problems = _line_mismatches(fields, order, receipts, policy)
    if problems:
        return error("purchase_order", f"{number}: " + "; ".join(problems))
    return passed("purchase_order", f"matches purchase order {number} and its receipts")


def _received(receipts: Sequence[GoodsReceiptRecord]) -> dict[int, Decimal]:
    received: dict[int, Decimal] = {}
    for receipt in receipts:
        for line in receipt.lines:
            received[line.line] = received.get(line.line, Decimal(0)) + line.quantity
    return received


def _line_mismatches(
    fields: InvoiceFields,
    order: PurchaseOrderRecord,
    receipts: Sequence[GoodsReceiptRecord],
    policy: InvoicePolicy,
) -> list[str]:
    received = _received(receipts)
    if not fields.lines:
        # No lines to compare: the net amount must match what was received at order prices.
        net = fields.subtotal.value if fields.subtotal else None
        expected = sum(
            (received.get(ol.line, Decimal(0)) * ol.unit_price for ol in order.lines), Decimal(0)
        )
        allowed = max(policy.total_tolerance, expected * Decimal(str(policy.price_tolerance)))
        if net is None:
            return ["the invoice shows neither lines nor a net amount to compare"]
        if abs(net - expected) > allowed:
            return [f"net amount {net}, but {expected} was received at order prices"]
        return []
    pairs, unmatched = _pair_lines(fields.lines, order)
    problems = [f"{line.description!r} is not on the order" for line in unmatched]
    quantity_slack = Decimal(1) + Decimal(str(policy.quantity_tolerance))
    for order_line, invoice_line in pairs:
        label = f"line {order_line.line} ({order_line.description})"
        got = received.get(order_line.line, Decimal(0))
        quantity = invoice_line.quantity
        if quantity is not None and quantity > got * quantity_slack:
            problems.append(f"{label}: invoiced {quantity}, received {got}")
        price = invoice_line.unit_price
        allowed = order_line.unit_price * Decimal(str(policy.price_tolerance))
        if price is not None and abs(price - order_line.unit_price) > allowed:
            problems.append(f"{label}: unit price {price}, ordered at {order_line.unit_price}")
    return problems


def _pair_lines(
    lines: Sequence[InvoiceLine], order: PurchaseOrderRecord
) -> tuple[list[tuple[PurchaseOrderLine, InvoiceLine]], list[InvoiceLine]]:
    """Each invoice line with the order line its description matches best (or, when the
    counts agree and descriptions differ, the one in the same position)."""
    remaining = list(lines)
    pairs: list[tuple[PurchaseOrderLine, InvoiceLine]] = []
    same_count = len(lines) == len(order.lines)
    for position, order_line in enumerate(order.lines):
        if not remaining:
            break
        scored = [
            (
                fuzz.token_set_ratio(
                    il.description, order_line.description, processor=utils.default_process
                ),
                il,
            )
            for il in remaining
        ]
        score, best = max(scored, key=lambda pair: pair[0])
        if score < LINE_MATCH and same_count and lines[position] in remaining:
            best = lines[position]
        elif score < LINE_MATCH:
            continue
        pairs.append((order_line, best))
        remaining.remove(best)
    return pairs, remaining
