"""The org's own entities that invoices are addressed to, with their aliases (ADMIN): CRUD and
a CSV import."""

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
from schemas.erp_api import CustomerIn, CustomerOut, CustomerPatch, ImportResult, Page
from store.erp_tables import Customer

router = APIRouter(tags=["customers"])


def _out(row: Customer) -> CustomerOut:
    return CustomerOut.model_validate(row, from_attributes=True)


@router.post("/customers", response_model=CustomerOut, status_code=201)
async def create_customer(body: CustomerIn, admin: AdminUser, session: SessionDep) -> CustomerOut:
    """Add a customer; 409 when the org has one of the same name (in any case)."""
    await ensure_name_free(session, Customer, admin.org_id, body.name)
    now = utcnow()
    row = Customer(
        id=new_id("cus"), org_id=admin.org_id, created_at=now, updated_at=now, **body.model_dump()
    )
    session.add(row)
    await commit_or_conflict(session, f"a customer named {body.name!r} exists already")
    return _out(row)


@router.get("/customers", response_model=Page[CustomerOut])
async def list_customers(
    admin: AdminUser,
    session: SessionDep,
    paged: PagingDep,
    q: NameQuery = None,
) -> Page[CustomerOut]:
    """The org's customers by name."""
    query = select(Customer).where(col(Customer.org_id) == admin.org_id)
    if q and q.strip():
        query = query.where(
            func.lower(col(Customer.name)).contains(q.strip().lower(), autoescape=True)
        )
    rows, total = await fetch_page(session, query, paged, col(Customer.name), col(Customer.id))
    return Page(items=[_out(r) for r in rows], total=total, limit=paged.limit, offset=paged.offset)


@router.get("/customers/{customer_id}", response_model=CustomerOut)
async def get_customer(customer_id: str, admin: AdminUser, session: SessionDep) -> CustomerOut:
    """One customer."""
    return _out(await owned(session, Customer, customer_id, admin.org_id, "customer"))


@router.patch("/customers/{customer_id}", response_model=CustomerOut)
async def update_customer(
    customer_id: str, body: CustomerPatch, admin: AdminUser, session: SessionDep
) -> CustomerOut:
    """Change a customer's name, aliases or VAT id."""
    row = await owned(session, Customer, customer_id, admin.org_id, "customer")
    if body.name is not None:
        await ensure_name_free(session, Customer, admin.org_id, body.name, own_id=row.id)
    apply_changes(row, body)
    row.updated_at = utcnow()
    session.add(row)
    await commit_or_conflict(session, f"a customer named {row.name!r} exists already")
    return _out(row)


@router.delete("/customers/{customer_id}", status_code=204)
async def delete_customer(customer_id: str, admin: AdminUser, session: SessionDep) -> Response:
    """Remove a customer: invoices addressed to it no longer pass validation."""
    row = await owned(session, Customer, customer_id, admin.org_id, "customer")
    await session.delete(row)
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/customers/import",
    response_model=ImportResult,
    responses=IMPORT_RESPONSES,
    description=(
        "Columns: `name` (required), `aliases` (separated by `;`), `vat_id`. A row updates the "
        "org's customer of the same name (in any case) and creates one otherwise. " + IMPORT_POLICY
    ),
)
async def import_customers(
    file: Annotated[UploadFile, File(description="CSV, UTF-8")],
    admin: AdminUser,
    session: SessionDep,
    context: ContextDep,
    dry_run: bool = False,
) -> ImportResult:
    """Create or update customers from a CSV file."""
    errors = RowErrors()
    table = await read_csv(
        file, context.settings.upload_max_bytes, ["name"], ("aliases", "vat_id"), errors
    )
    items = errors.parse_all(
        CustomerIn,
        table.rows,
        lambda row: {
            "name": row.get("name"),
            "aliases": split_cell(row.get("aliases"), ";"),
            "vat_id": row.get("vat_id"),
        },
    )
    return await upsert_by_name(
        session,
        Customer,
        admin.org_id,
        items,
        table.columns,
        errors,
        prefix="cus",
        dry_run=dry_run,
    )
