"""Purchase orders as the routes and the CSV import read and write them: their lines as stored,
the suppliers and numbers they may take, an order locked for a change, and what was received
against their lines so far."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from api.org_rows import owned, utcnow
from api.problems import Problem, conflict, not_found
from schemas.erp_api import PurchaseOrderLineIn
from store.erp_tables import GoodsReceipt, PurchaseOrder, Supplier


def stored_lines(lines: Sequence[PurchaseOrderLineIn]) -> list[dict[str, Any]]:
    """Lines as their JSON column holds them (decimals as exact strings)."""
    return [line.model_dump(mode="json") for line in lines]


def supplier_problem(supplier: Supplier | None, org_id: str, reference: str) -> str | None:
    """Why an order cannot name this supplier, if it cannot."""
    if supplier is None or supplier.org_id != org_id:
        return f"there is no supplier {reference!r}"
    if not supplier.active:
        return f"supplier {supplier.name!r} is inactive"
    return None


async def check_supplier(session: AsyncSession, org_id: str, supplier_id: str) -> None:
    """422 unless the supplier is an active one of the org."""
    problem = supplier_problem(await session.get(Supplier, supplier_id), org_id, supplier_id)
    if problem:
        raise Problem(422, f"supplier_id: {problem}")


async def check_number_free(
    session: AsyncSession, org_id: str, number: str, own_id: str | None = None
) -> None:
    """409 if another order of the org has this number."""
    taken = await session.exec(
        select(PurchaseOrder.id).where(
            col(PurchaseOrder.org_id) == org_id, col(PurchaseOrder.number) == number
        )
    )
    if any(found != own_id for found in taken):
        raise conflict(f"the org has a purchase order numbered {number!r} already")


async def locked_order(session: AsyncSession, org_id: str, order_id: str) -> PurchaseOrder:
    """The order, locked for this transaction: receipts and line changes of the same order
    take turns, so two receipts cannot both fit in what only one of them fits."""
    if "\x00" in order_id:  # see owned()
        raise not_found("purchase order")
    touched = await session.exec(
        update(PurchaseOrder)
        .where(col(PurchaseOrder.id) == order_id, col(PurchaseOrder.org_id) == org_id)
        .values(updated_at=utcnow())
        .returning(col(PurchaseOrder.id))
    )
    if touched.first() is None:
        raise not_found("purchase order")
    return await owned(session, PurchaseOrder, order_id, org_id, "purchase order")


async def received_quantities(
    session: AsyncSession, order_ids: Collection[str]
) -> dict[str, dict[int, Decimal]]:
    """Per order, the quantity received so far of each line."""
    totals: dict[str, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    if order_ids:
        receipts = await session.exec(
            select(GoodsReceipt).where(col(GoodsReceipt.purchase_order_id).in_(order_ids))
        )
        for receipt in receipts:
            for line in receipt.lines:
                totals[receipt.purchase_order_id][int(line["line"])] += Decimal(
                    str(line["quantity"])
                )
    return totals


def uncovered_lines(
    lines: Sequence[PurchaseOrderLineIn], received: dict[int, Decimal]
) -> list[str]:
    """Lines that would order less than has been received already."""
    ordered = {line.line: line.quantity for line in lines}
    return [
        f"line {number}: {quantity} received, more than the {ordered.get(number, 0)} ordered"
        for number, quantity in sorted(received.items())
        if quantity > ordered.get(number, Decimal(0))
    ]
