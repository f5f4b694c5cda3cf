"""Purchase orders and their goods receipts in the reference ERP (ADMIN): CRUD, cancelling,
receipts checked against what was ordered, and a CSV import of order lines."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile
from sqlmodel import col, select

from api.csv_import import IMPORT_POLICY, IMPORT_RESPONSES, RowErrors, read_csv
from api.deps import AdminUser, ContextDep, SessionDep
from api.org_rows import PRINTABLE, PagingDep, commit_or_conflict, fetch_page, new_id, owned, utcnow
from api.problems import Problem, conflict
from api.purchase_order_import import (
    IMPORT_REQUIRED,
    check_imported_orders,
    existing_orders_locked,
    group_orders,
    resolve_suppliers,
)
from api.purchase_order_rows import (
    check_number_free,
    check_supplier,
    locked_order,
    received_quantities,
    stored_lines,
    uncovered_lines,
)
from schemas.erp_api import (
    GoodsReceiptIn,
    GoodsReceiptOut,
    ImportResult,
    Page,
    PurchaseOrderIn,
    PurchaseOrderOut,
    PurchaseOrderPatch,
    PurchaseOrderStatus,
    order_total,
)
from store.erp_tables import GoodsReceipt, PurchaseOrder

router = APIRouter(tags=["purchase-orders"])

ORDERS = "/purchase-orders"


def _out(row: PurchaseOrder) -> PurchaseOrderOut:
    return PurchaseOrderOut.model_validate(row, from_attributes=True)


def _receipt_out(row: GoodsReceipt) -> GoodsReceiptOut:
    return GoodsReceiptOut.model_validate(row, from_attributes=True)


@router.post(ORDERS, response_model=PurchaseOrderOut, status_code=201)
async def create_purchase_order(
    body: PurchaseOrderIn, admin: AdminUser, session: SessionDep
) -> PurchaseOrderOut:
    """Add an open purchase order for an active supplier of the org; the total is the sum of
    quantity times unit price over its lines."""
    await check_number_free(session, admin.org_id, body.number)
    await check_supplier(session, admin.org_id, body.supplier_id)
    now = utcnow()
    row = PurchaseOrder(
        id=new_id("po"),
        org_id=admin.org_id,
        number=body.number,
        supplier_id=body.supplier_id,
        currency=body.currency,
        department=body.department,
        total=order_total(body.lines),
        lines=stored_lines(body.lines),
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
    row = await locked_order(session, admin.org_id, order_id)
    if row.status == "CANCELLED":
        raise conflict("a cancelled purchase order cannot be changed")
    if body.number is not None and body.number != row.number:
        await check_number_free(session, admin.org_id, body.number, own_id=row.id)
        row.number = body.number
    if body.supplier_id is not None and body.supplier_id != row.supplier_id:
        await check_supplier(session, admin.org_id, body.supplier_id)
        row.supplier_id = body.supplier_id
    if body.lines is not None:
        short = uncovered_lines(body.lines, (await received_quantities(session, [row.id]))[row.id])
        if short:
            raise conflict("the new lines order less than was received: " + "; ".join(short))
        row.lines, row.total = stored_lines(body.lines), order_total(body.lines)
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
    row = await locked_order(session, admin.org_id, order_id)
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
    order = await locked_order(session, admin.org_id, order_id)
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
    received = (await received_quantities(session, [order.id]))[order.id]
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
    table = await read_csv(file, limit, IMPORT_REQUIRED, ("department",), errors)
    orders = group_orders(table.rows, errors)
    existing = await existing_orders_locked(session, admin.org_id, orders.keys())
    suppliers = await resolve_suppliers(session, admin.org_id, orders, errors)
    await check_imported_orders(session, orders, existing, errors)
    errors.refuse_if_any()

    now = utcnow()
    for number, order in orders.items():
        lines = order.line_models()
        values: dict[str, Any] = {
            "supplier_id": suppliers[number].id,
            "currency": order.head.currency,
            "total": order_total(lines),
            "lines": stored_lines(lines),
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
