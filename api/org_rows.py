"""Rows of the caller's org as the master-data routes read and write them: one by id (404 for
another org's), a page of them, names unique in the org, a commit that answers 409, and the
upsert by name of the supplier and customer imports."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from api.csv_import import CsvRow, RowErrors
from api.problems import conflict, not_found
from erp.identifiers import comparable_name
from schemas.erp_api import CustomerIn, ImportResult, SupplierIn
from store.erp_tables import Customer, Supplier

Row = TypeVar("Row", bound=SQLModel)
NamedRow = TypeVar("NamedRow", Supplier, Customer)


@dataclass(frozen=True)
class Paging:
    """Which page of a list: at most `limit` items after skipping `offset`."""

    limit: int
    offset: int


def paging(
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Paging:
    """The page a list request asks for."""
    return Paging(limit, offset)


PagingDep = Annotated[Paging, Depends(paging)]
# Query filters are compared in SQL, which refuses control characters such as NUL.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
NameQuery = Annotated[
    str | None, Query(max_length=200, pattern=PRINTABLE, description="Part of the name, any case")
]


async def fetch_page(
    session: AsyncSession, query: SelectOfScalar[Row], paged: Paging, *order_by: Any
) -> tuple[list[Row], int]:
    """One page of the query's rows in the given order, and how many rows there are in all."""
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = await session.exec(query.order_by(*order_by).limit(paged.limit).offset(paged.offset))
    return list(rows), total


def new_id(prefix: str) -> str:
    """A fresh row id such as sup-0123456789abcdef."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


async def owned(
    session: AsyncSession, model: type[Row], row_id: str, org_id: str, what: str
) -> Row:
    """The row with this id in the caller's org; 404 whether it is missing or another org's."""
    # A NUL names nothing, and PostgreSQL refuses it even in a lookup.
    row = None if "\x00" in row_id else await session.get(model, row_id)
    if row is None or getattr(row, "org_id", None) != org_id:
        raise not_found(what)
    return row


async def commit_or_conflict(session: AsyncSession, detail: str) -> None:
    """Commit; a unique constraint that fails (a concurrent duplicate) answers 409."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise conflict(detail) from None


async def ensure_name_free(
    session: AsyncSession, model: type[NamedRow], org_id: str, name: str, own_id: str | None = None
) -> None:
    """409 when another row of the org has this name in any case ("ACME" and "Acme" would be
    one supplier to the matching that reads invoices)."""
    wanted = comparable_name(name)
    rows = await session.exec(
        select(col(model.id), col(model.name)).where(col(model.org_id) == org_id)
    )
    for row_id, row_name in rows:
        if row_id != own_id and comparable_name(row_name) == wanted:
            raise conflict(f"{name!r} is taken by {row_id} ({row_name!r})")


def apply_changes(row: SQLModel, changes: BaseModel) -> None:
    """Copy the fields a PATCH body sets (null included) onto the row."""
    for field, value in changes.model_dump(exclude_unset=True).items():
        setattr(row, field, value)


async def upsert_by_name(
    session: AsyncSession,
    model: type[NamedRow],
    org_id: str,
    items: Sequence[tuple[CsvRow, SupplierIn | CustomerIn]],
    columns: Collection[str],
    errors: RowErrors,
    *,
    prefix: str,
    dry_run: bool,
) -> ImportResult:
    """Create the rows of an import, or update the org's row of the same name (any case) with
    the fields the file has columns for; nothing is written if any row is wrong."""
    first_of: dict[str, int] = {}
    for row, item in items:
        key = comparable_name(item.name)
        if key in first_of:
            errors.add(row.number, f"the name repeats row {first_of[key]}", "name")
        first_of.setdefault(key, row.number)
    errors.refuse_if_any()

    stored = await session.exec(select(model).where(col(model.org_id) == org_id))
    existing = {comparable_name(r.name): r for r in stored}
    created = updated = 0
    now = utcnow()
    for _, item in items:
        values = item.model_dump()
        match = existing.get(comparable_name(values["name"]))
        if match is None:
            session.add(
                model(id=new_id(prefix), org_id=org_id, created_at=now, updated_at=now, **values)
            )
            created += 1
            continue
        for name in {"name", *columns} & values.keys():
            setattr(match, name, values[name])
        match.updated_at = now
        session.add(match)
        updated += 1
    if not dry_run:
        await commit_or_conflict(session, "rows changed while the file was imported; try again")
    return ImportResult(rows=len(items), created=created, updated=updated, dry_run=dry_run)
