"""The CSV import of purchase orders, one row per order line: rows grouped into orders by
number, each order's supplier found by id or name, and the orders checked against the stored
ones they would update. Nothing here writes: the route does, once no row is wrong."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from api.csv_import import CsvRow, RowErrors
from api.purchase_order_rows import received_quantities, supplier_problem, uncovered_lines
from erp.identifiers import comparable_name
from schemas.erp_api import PurchaseOrderHead, PurchaseOrderLineIn, check_order_lines
from store.erp_tables import PurchaseOrder, Supplier

_LINE_COLUMNS = ("line", "description", "quantity", "unit_price")
IMPORT_REQUIRED = ("po_number", "supplier", "currency", *_LINE_COLUMNS)


@dataclass
class ImportedOrder:
    """One order of an import: the head its first row gives, and its lines with their rows."""

    head: PurchaseOrderHead
    supplier: str
    first_row: int
    lines: list[tuple[CsvRow, PurchaseOrderLineIn]]

    def line_models(self) -> list[PurchaseOrderLineIn]:
        """The lines by line number."""
        return sorted((line for _, line in self.lines), key=lambda line: line.line)


def group_orders(rows: Sequence[CsvRow], errors: RowErrors) -> dict[str, ImportedOrder]:
    """The file's rows as orders by number; rows disagreeing with their order's first row on
    the supplier, currency or department, or repeating a line number, are noted as wrong."""
    orders: dict[str, ImportedOrder] = {}
    for row in rows:
        head_data = {
            "number": row.get("po_number"),
            "currency": row.get("currency"),
            "department": row.get("department"),
        }
        head = errors.parse(PurchaseOrderHead, row, head_data, {"number": "po_number"})
        line_data = {column: row.get(column) for column in _LINE_COLUMNS}
        line = errors.parse(PurchaseOrderLineIn, row, line_data)
        supplier = row.get("supplier")
        if supplier is None:
            errors.add(row.number, "the supplier (its name or id) is missing", "supplier")
        if head is None or line is None or supplier is None:
            continue
        order = orders.setdefault(head.number, ImportedOrder(head, supplier, row.number, []))
        first = order.first_row
        for column, mine, theirs in (
            ("currency", head.currency, order.head.currency),
            ("department", head.department, order.head.department),
            ("supplier", supplier, order.supplier),
        ):
            if mine != theirs:
                errors.add(row.number, f"differs from row {first}, the order's first row", column)
        repeated = next((r.number for r, ln in order.lines if ln.line == line.line), None)
        if repeated is not None:
            errors.add(row.number, f"line {line.line} repeats row {repeated}", "line")
        else:
            order.lines.append((row, line))
    return orders


async def existing_orders_locked(
    session: AsyncSession, org_id: str, numbers: Collection[str]
) -> dict[str, PurchaseOrder]:
    """The org's orders with these numbers, locked (see locked_order) before they are read."""
    if not numbers:
        return {}
    same = (col(PurchaseOrder.org_id) == org_id, col(PurchaseOrder.number).in_(numbers))
    await session.exec(
        update(PurchaseOrder).where(*same).values(updated_at=col(PurchaseOrder.updated_at))
    )
    return {row.number: row for row in await session.exec(select(PurchaseOrder).where(*same))}


async def resolve_suppliers(
    session: AsyncSession, org_id: str, orders: dict[str, ImportedOrder], errors: RowErrors
) -> dict[str, Supplier]:
    """Each order's supplier, named by id or by name (in any case); wrong ones noted."""
    rows = list(await session.exec(select(Supplier).where(col(Supplier.org_id) == org_id)))
    by_id = {row.id: row for row in rows}
    by_name = {comparable_name(row.name): row for row in rows}
    found: dict[str, Supplier] = {}
    for number, order in orders.items():
        supplier = by_id.get(order.supplier) or by_name.get(comparable_name(order.supplier))
        problem = supplier_problem(supplier, org_id, order.supplier)
        if problem or supplier is None:
            errors.add(order.first_row, problem or "no supplier", "supplier")
        else:
            found[number] = supplier
    return found


async def check_imported_orders(
    session: AsyncSession,
    orders: dict[str, ImportedOrder],
    existing: dict[str, PurchaseOrder],
    errors: RowErrors,
) -> None:
    """Note orders too long or too large, and updates the stored orders cannot take."""
    received = await received_quantities(session, [row.id for row in existing.values()])
    for number, order in orders.items():
        lines = order.line_models()
        if len(lines) > 1000:
            errors.add(order.first_row, "an order has at most 1000 lines", "line")
        try:
            check_order_lines(lines)
        except ValueError as wrong:
            errors.add(order.first_row, str(wrong), "quantity")
        stored = existing.get(number)
        if stored is None:
            continue
        if stored.status != "OPEN":
            message = f"purchase order {number} is {stored.status}; only open orders are updated"
            errors.add(order.first_row, message, "po_number")
        for short in uncovered_lines(lines, received[stored.id]):
            errors.add(order.first_row, short, "quantity")
