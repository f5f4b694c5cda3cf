"""Suppliers of the reference ERP (ADMIN): CRUD, deactivation, and a CSV import."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile
from sqlmodel import col, func, select

from api.csv_import import IMPORT_POLICY, IMPORT_RESPONSES, RowErrors, read_csv, split_cell
from api.deps import AdminUser, ContextDep, SessionDep
from api.org_rows import (
    NameQuery,
    PagingDep,
    apply_changes,
    commit_or_conflict,
    ensure_name_free,
    fetch_page,
    new_id,
    owned,
    upsert_by_name,
    utcnow,
)
from schemas.erp_api import ImportResult, Page, SupplierIn, SupplierOut, SupplierPatch
from store.erp_tables import Supplier

router = APIRouter(tags=["suppliers"])

_COLUMNS = ("vat_id", "domains", "iban", "email")


def _out(row: Supplier) -> SupplierOut:
    return SupplierOut.model_validate(row, from_attributes=True)


@router.post("/suppliers", response_model=SupplierOut, status_code=201)
async def create_supplier(body: SupplierIn, admin: AdminUser, session: SessionDep) -> SupplierOut:
    """Add a supplier; 409 when the org has one of the same name (in any case)."""
    await ensure_name_free(session, Supplier, admin.org_id, body.name)
    now = utcnow()
    row = Supplier(
        id=new_id("sup"), org_id=admin.org_id, created_at=now, updated_at=now, **body.model_dump()
    )
    session.add(row)
    await commit_or_conflict(session, f"a supplier named {body.name!r} exists already")
    return _out(row)


@router.get("/suppliers", response_model=Page[SupplierOut])
async def list_suppliers(
    admin: AdminUser,
    session: SessionDep,
    paged: PagingDep,
    q: NameQuery = None,
    active: bool | None = None,
) -> Page[SupplierOut]:
    """The org's suppliers by name, active and inactive unless `active` says which."""
    query = select(Supplier).where(col(Supplier.org_id) == admin.org_id)
    if q and q.strip():
        query = query.where(
            func.lower(col(Supplier.name)).contains(q.strip().lower(), autoescape=True)
        )
    if active is not None:
        query = query.where(col(Supplier.active) == active)
    rows, total = await fetch_page(session, query, paged, col(Supplier.name), col(Supplier.id))
    return Page(items=[_out(r) for r in rows], total=total, limit=paged.limit, offset=paged.offset)


@router.get("/suppliers/{supplier_id}", response_model=SupplierOut)
async def get_supplier(supplier_id: str, admin: AdminUser, session: SessionDep) -> SupplierOut:
    """One supplier."""
    return _out(await owned(session, Supplier, supplier_id, admin.org_id, "supplier"))


@router.patch("/suppliers/{supplier_id}", response_model=SupplierOut)
async def update_supplier(
    supplier_id: str, body: SupplierPatch, admin: AdminUser, session: SessionDep
) -> SupplierOut:
    """Change a supplier; `active: true` brings back a deactivated one."""
    row = await owned(session, Supplier, supplier_id, admin.org_id, "supplier")
    if body.name is not None:
        await ensure_name_free(session, Supplier, admin.org_id, body.name, own_id=row.id)
    apply_changes(row, body)
    row.updated_at = utcnow()
    session.add(row)
    await commit_or_conflict(session, f"a supplier named {row.name!r} exists already")
    return _out(row)


@router.delete("/suppliers/{supplier_id}", status_code=204)
async def deactivate_supplier(supplier_id: str, admin: AdminUser, session: SessionDep) -> Response:
    """Deactivate: the supplier no longer matches invoices or takes postings and orders, while
    its orders and postings stay."""
    row = await owned(session, Supplier, supplier_id, admin.org_id, "supplier")
    if row.active:
        row.active, row.updated_at = False, utcnow()
        session.add(row)
        await session.commit()
    return Response(status_code=204)


@router.post(
    "/suppliers/import",
    response_model=ImportResult,
    responses=IMPORT_RESPONSES,
    description=(
        "Columns: `name` (required), `vat_id`, `domains` (separated by `;` or spaces), `iban`, "
        "`email`. A row updates the org's supplier of the same name (in any case) and creates "
        "one otherwise; whether a supplier is active is left as it is. " + IMPORT_POLICY
    ),
)
async def import_suppliers(
    file: Annotated[UploadFile, File(description="CSV, UTF-8")],
    admin: AdminUser,
    session: SessionDep,
    context: ContextDep,
    dry_run: bool = False,
) -> ImportResult:
    """Create or update suppliers from a CSV file."""
    errors = RowErrors()
    table = await read_csv(file, context.settings.upload_max_bytes, ["name"], _COLUMNS, errors)
    items = errors.parse_all(
        SupplierIn,
        table.rows,
        lambda row: {
            "name": row.get("name"),
            "vat_id": row.get("vat_id"),
            "domains": split_cell(row.get("domains"), "; \t"),
            "iban": row.get("iban"),
            "email": row.get("email"),
        },
    )
    return await upsert_by_name(
        session,
        Supplier,
        admin.org_id,
        items,
        table.columns,
        errors,
        prefix="sup",
        dry_run=dry_run,
    )
