"""Purchase orders and their goods receipts in the reference ERP (ADMIN): CRUD, cancelling,
receipts checked against what was ordered, and a CSV import of order lines."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from api.csv_import import IMPORT_POLICY, IMPORT_RESPONSES, CsvRow, RowErrors, read_csv
from api.deps import AdminUser, ContextDep, SessionDep
from api.org_rows import (
    PRINTABLE,
    PagingDep,
    commit_or_conflict,
    fetch_page,
    new_id,
    owned,
    utcnow,
)
from api.problems import Problem, conflict, not_found
from erp.identifiers import comparable_name
from schemas.erp_api import (
    GoodsReceiptIn,
    GoodsReceiptOut,
    ImportResult,
    Page,
    PurchaseOrderHead,
    PurchaseOrderIn,
    PurchaseOrderLineIn,
    PurchaseOrderOut,
    PurchaseOrderPatch,
    PurchaseOrderStatus,
    check_order_lines,
    order_total,
)
from store.erp_tables import GoodsReceipt, PurchaseOrder, Supplier

router = APIRouter(tags=["purchase-orders"])

ORDERS = "/purchase-orders"
_LINE_COLUMNS = ("line", "description", "quantity", "unit_price")
_IMPORT_REQUIRED = ("po_number", "supplier", "currency", *_LINE_COLUMNS)


def _out(row: PurchaseOrder) -> PurchaseOrderOut:
    return PurchaseOrderOut.model_validate(row, from_attributes=True)


def _receipt_out(row: GoodsReceipt) -> GoodsReceiptOut:
    return GoodsReceiptOut.model_validate(row, from_attributes=True)


def _stored_lines(lines: Sequence[PurchaseOrderLineIn]) -> list[dict[str, Any]]:
    """Lines as their JSON column holds them (decimals as exact strings)."""
    return [line.model_dump(mode="json") for line in lines]


def _supplier_problem(supplier: Supplier | None, org_id: str, reference: str) -> str | None:
    """Why an order cannot name this supplier, if it cannot."""
    if supplier is None or supplier.org_id != org_id:
        return f"there is no supplier {reference!r}"
    if not supplier.active:
        return f"supplier {supplier.name!r} is inactive"
    return None


async def _check_supplier(session: AsyncSession, org_id: str, supplier_id: str) -> None:
    problem = _supplier_problem(await session.get(Supplier, supplier_id), org_id, supplier_id)
    if problem:
        raise Problem(422, f"supplier_id: {problem}")


async def _check_number_free(
    session: AsyncSession, org_id: str, number: str, own_id: str | None = None
) -> None:
    taken = await session.exec(
        select(PurchaseOrder.id).where(
            col(PurchaseOrder.org_id) == org_id, col(PurchaseOrder.number) == number
        )
    )
    if any(found != own_id for found in taken):
        raise conflict(f"the org has a purchase order numbered {number!r} already")


async def _locked(session: AsyncSession, org_id: str, order_id: str) -> PurchaseOrder:
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


async def _received(
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


def _uncovered(lines: Sequence[PurchaseOrderLineIn], received: dict[int, Decimal]) -> list[str]:
    """Lines that would order less than has been received already."""
    ordered = {line.line: line.quantity for line in lines}
    return [
        f"line {number}: {quantity} received, more than the {ordered.get(number, 0)} ordered"
        for number, quantity in sorted(received.items())
        if quantity > ordered.get(number, Decimal(0))
    ]


@router.post(ORDERS, response_model=PurchaseOrderOut, status_code=201)
async def create_purchase_order(
    body: PurchaseOrderIn, admin: AdminUser, session: SessionDep
) -> PurchaseOrderOut:
    """Add an open purchase order for an active supplier of the org; the total is the sum of
    quantity times unit price over its lines."""
    await _check_number_free(session, admin.org_id, body.number)
    await _check_supplier(session, admin.org_id, body.supplier_id)
    now = utcnow()
    row = PurchaseOrder(
        id=new_id("po"),
        org_id=admin.org_id,
        number=body.number,
        supplier_id=body.supplier_id,
        currency=body.currency,
        department=body.department,
        total=order_total(body.lines),
        lines=_stored_lines(body.lines),
        status="OPEN",
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await commit_or_conflict(session, f"the org has a purchase order numbered {body.number!r}")
    return _out(row)


@router.get(ORDERS, response_model=Page[PurchaseOrderOut])
async def list_purchase_orders(
    admin: AdminUser,
    session: SessionDep,
    paged: PagingDep,
    supplier_id: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    status: PurchaseOrderStatus | None = None,
) -> Page[PurchaseOrderOut]:
    """The org's purchase orders by number, of one supplier or in one status if asked."""
    query = select(PurchaseOrder).where(col(PurchaseOrder.org_id) == admin.org_id)
    if supplier_id is not None:
        query = query.where(col(PurchaseOrder.supplier_id) == supplier_id)
    if status is not None:
        query = query.where(col(PurchaseOrder.status) == status)
    order = (col(PurchaseOrder.number), col(PurchaseOrder.id))
    rows, total = await fetch_page(session, query, paged, *order)
    return Page(items=[_out(r) for r in rows], total=total, limit=paged.limit, offset=paged.offset)


@router.get(ORDERS + "/{order_id}", response_model=PurchaseOrderOut)
async def get_purchase_order(
    order_id: str, admin: AdminUser, session: SessionDep
) -> PurchaseOrderOut:
    """One purchase order."""
    return _out(await owned(session, PurchaseOrder, order_id, admin.org_id, "purchase order"))


@router.patch(ORDERS + "/{order_id}", response_model=PurchaseOrderOut)
async def update_purchase_order(
    order_id: str, body: PurchaseOrderPatch, admin: AdminUser, session: SessionDep
) -> PurchaseOrderOut:
    """Change, close or reopen an order; 409 for a cancelled one or for lines that would order
    less than was received."""
    row = await _locked(session, admin.org_id, order_id)
    if row.status == "CANCELLED":
        raise conflict("a cancelled purchase order cannot be changed")
    if body.number is not None and body.number != row.number:
        await _check_number_free(session, admin.org_id, body.number, own_id=row.id)
        row.number = body.number
    if body.supplier_id is not None and body.supplier_id != row.supplier_id:
        await _check_supplier(session, admin.org_id, body.supplier_id)
        row.supplier_id = body.supplier_id
    if body.lines is not None:
        short = _uncovered(body.lines, (await _received(session, [row.id]))[row.id])
        if short:
            raise conflict("the new lines order less than was received: " + "; ".join(short))
        row.lines, row.total = _stored_lines(body.lines), order_total(body.lines)
    if body.currency is not None:
        row.currency = body.currency
    if "department" in body.model_fields_set:
        row.department = body.department
    if body.status is not None:
        row.status = body.status
    row.updated_at = utcnow()
    session.add(row)
    await commit_or_conflict(session, f"the org has a purchase order numbered {row.number!r}")
    return _out(row)


@router.delete(ORDERS + "/{order_id}", status_code=204)
async def cancel_purchase_order(order_id: str, admin: AdminUser, session: SessionDep) -> Response:
    """Cancel the order: it stays, with its receipts, but takes no more receipts or postings."""
    row = await _locked(session, admin.org_id, order_id)
    row.status = "CANCELLED"
    session.add(row)
    await session.commit()
    return Response(status_code=204)


@router.post(ORDERS + "/{order_id}/receipts", response_model=GoodsReceiptOut, status_code=201)
async def receive_goods(
    order_id: str, body: GoodsReceiptIn, admin: AdminUser, session: SessionDep
) -> GoodsReceiptOut:
    """Record goods received against an open order; 422 for a line the order does not have or
    a quantity past what is still to be received."""
    order = await _locked(session, admin.org_id, order_id)
    if order.status != "OPEN":
        raise conflict(f"the purchase order is {order.status}; only open orders receive goods")
    taken = await session.exec(
        select(GoodsReceipt.id).where(
            col(GoodsReceipt.org_id) == admin.org_id, col(GoodsReceipt.number) == body.number
        )
    )
    if taken.first() is not None:
        raise conflict(f"the org has a goods receipt numbered {body.number!r} already")
    ordered = {int(line["line"]): Decimal(str(line["quantity"])) for line in order.lines}
    received = (await _received(session, [order.id]))[order.id]
    problems = []
    for line in body.lines:
        if line.line not in ordered:
            problems.append(f"line {line.line} is not on the order")
        elif received[line.line] + line.quantity > ordered[line.line]:
            still = ordered[line.line] - received[line.line]
            problems.append(f"line {line.line}: {line.quantity} received but only {still} is due")
    if problems:
        raise Problem(422, "; ".join(problems))
    row = GoodsReceipt(
        id=new_id("grn"),
        org_id=admin.org_id,
        number=body.number,
        purchase_order_id=order.id,
        received_on=body.received_on,
        lines=[line.model_dump(mode="json") for line in body.lines],
        created_at=utcnow(),
    )
    session.add(row)
    await commit_or_conflict(session, f"the org has a goods receipt numbered {body.number!r}")
    return _receipt_out(row)


@router.get(ORDERS + "/{order_id}/receipts", response_model=Page[GoodsReceiptOut])
async def list_receipts(
    order_id: str, admin: AdminUser, session: SessionDep, paged: PagingDep
) -> Page[GoodsReceiptOut]:
    """The order's goods receipts, oldest first."""
    await owned(session, PurchaseOrder, order_id, admin.org_id, "purchase order")
    query = select(GoodsReceipt).where(
        col(GoodsReceipt.org_id) == admin.org_id, col(GoodsReceipt.purchase_order_id) == order_id
    )
    order = (col(GoodsReceipt.received_on), col(GoodsReceipt.number))
    rows, total = await fetch_page(session, query, paged, *order)
    return Page(
        items=[_receipt_out(r) for r in rows], total=total, limit=paged.limit, offset=paged.offset
    )


@dataclass
class _ImportedOrder:
    """One order of an import: the head its first row gives, and its lines with their rows."""

    head: PurchaseOrderHead
    supplier: str
    first_row: int
    lines: list[tuple[CsvRow, PurchaseOrderLineIn]]

    def line_models(self) -> list[PurchaseOrderLineIn]:
        """The lines by line number."""
        return sorted((line for _, line in self.lines), key=lambda line: line.line)


def _group_orders(rows: Sequence[CsvRow], errors: RowErrors) -> dict[str, _ImportedOrder]:
    """The file's rows as orders by number; rows disagreeing with their order's first row on
    the supplier, currency or department, or repeating a line number, are noted as wrong."""
    orders: dict[str, _ImportedOrder] = {}
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
        order = orders.setdefault(head.number, _ImportedOrder(head, supplier, row.number, []))
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


async def _existing_locked(
    session: AsyncSession, org_id: str, numbers: Collection[str]
) -> dict[str, PurchaseOrder]:
    """The org's orders with these numbers, locked (see _locked) before they are read."""
    if not numbers:
        return {}
    same = (col(PurchaseOrder.org_id) == org_id, col(PurchaseOrder.number).in_(numbers))
    await session.exec(
        update(PurchaseOrder).where(*same).values(updated_at=col(PurchaseOrder.updated_at))
    )
    return {row.number: row for row in await session.exec(select(PurchaseOrder).where(*same))}


async def _resolve_suppliers(
    session: AsyncSession, org_id: str, orders: dict[str, _ImportedOrder], errors: RowErrors
) -> dict[str, Supplier]:
    """Each order's supplier, named by id or by name (in any case); wrong ones noted."""
    rows = list(await session.exec(select(Supplier).where(col(Supplier.org_id) == org_id)))
    by_id = {row.id: row for row in rows}
    by_name = {comparable_name(row.name): row for row in rows}
    found: dict[str, Supplier] = {}
    for number, order in orders.items():
        supplier = by_id.get(order.supplier) or by_name.get(comparable_name(order.supplier))
        problem = _supplier_problem(supplier, org_id, order.supplier)
        if problem or supplier is None:
            errors.add(order.first_row, problem or "no supplier", "supplier")
        else:
            found[number] = supplier
    return found


async def _check_imported_orders(
    session: AsyncSession,
    orders: dict[str, _ImportedOrder],
    existing: dict[str, PurchaseOrder],
    errors: RowErrors,
) -> None:
    """Note orders too long or too large, and updates the stored orders cannot take."""
    received = await _received(session, [row.id for row in existing.values()])
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
        for short in _uncovered(lines, received[stored.id]):
            errors.add(order.first_row, short, "quantity")


@router.post(
    ORDERS + "/import",
    response_model=ImportResult,
    responses=IMPORT_RESPONSES,
    description=(
        "One row per order line. Columns: `po_number`, `supplier` (its name or id), `currency`, "
        "`department` (optional), `line`, `description`, `quantity`, `unit_price`. Rows with "
        "the same `po_number` make one order and must agree on supplier, currency and "
        "department. A new number creates an open order; the number of an open order of the "
        "org replaces its supplier, currency, department and lines (which must still cover "
        "what was received). " + IMPORT_POLICY
    ),
)
async def import_purchase_orders(
    file: Annotated[UploadFile, File(description="CSV, UTF-8, one row per order line")],
    admin: AdminUser,
    session: SessionDep,
    context: ContextDep,
    dry_run: bool = False,
) -> ImportResult:
    """Create or update purchase orders from a CSV file of their lines."""
    errors = RowErrors()
    limit = context.settings.upload_max_bytes
    table = await read_csv(file, limit, _IMPORT_REQUIRED, ("department",), errors)
    orders = _group_orders(table.rows, errors)
    existing = await _existing_locked(session, admin.org_id, orders.keys())
    suppliers = await _resolve_suppliers(session, admin.org_id, orders, errors)
    await _check_imported_orders(session, orders, existing, errors)
    errors.refuse_if_any()

    now = utcnow()
    for number, order in orders.items():
        lines = order.line_models()
        values: dict[str, Any] = {
            "supplier_id": suppliers[number].id,
            "currency": order.head.currency,
            "total": order_total(lines),
            "lines": _stored_lines(lines),
        }
        if table.has("department"):
            values["department"] = order.head.department
        row = existing.get(number)
        if row is None:
            new: dict[str, Any] = {"id": new_id("po"), "number": number, "status": "OPEN"}
            session.add(
                PurchaseOrder(org_id=admin.org_id, created_at=now, updated_at=now, **new, **values)
            )
            continue
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now
        session.add(row)
    if not dry_run:
        await commit_or_conflict(session, "purchase orders changed during the import; try again")
    created = len(orders.keys() - existing.keys())
    return ImportResult(
        rows=len(table.rows), created=created, updated=len(existing), dry_run=dry_run
    )
