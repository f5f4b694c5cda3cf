"""The filters of the invoice list and the invoice report, as one dependency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlmodel import col, or_
from sqlmodel.sql.expression import SelectOfScalar

from api.date_range import check_range
from api.org_rows import PRINTABLE
from schemas.invoice import InvoiceStatus, InvoiceStep
from store.invoice_tables import InvoiceRecord


@dataclass(frozen=True)
class InvoiceFilters:
    """What the caller asked to see."""

    status: InvoiceStatus | None
    step: InvoiceStep | None
    supplier: str | None
    reason: str | None
    created_from: datetime | None
    created_to: datetime | None

    def apply(self, query: SelectOfScalar[Any], org_id: str) -> SelectOfScalar[Any]:
        """The query narrowed to the caller's org and these filters."""
        query = query.where(col(InvoiceRecord.org_id) == org_id)
        if self.status is not None:
            query = query.where(col(InvoiceRecord.status) == self.status.value)
        if self.step is not None:
            query = query.where(col(InvoiceRecord.step) == self.step.value)
        if self.supplier is not None:
            query = query.where(
                or_(
                    col(InvoiceRecord.supplier_id) == self.supplier,
                    col(InvoiceRecord.supplier_name).icontains(self.supplier, autoescape=True),
                )
            )
        if self.reason is not None:
            query = query.where(col(InvoiceRecord.reason).icontains(self.reason, autoescape=True))
        if self.created_from is not None:
            query = query.where(col(InvoiceRecord.created_at) >= self.created_from)
        if self.created_to is not None:
            query = query.where(col(InvoiceRecord.created_at) < self.created_to)
        return query


def invoice_filters(
    status: Annotated[InvoiceStatus | None, Query()] = None,
    step: Annotated[InvoiceStep | None, Query()] = None,
    supplier: Annotated[
        str | None,
        Query(
            min_length=1, max_length=200, pattern=PRINTABLE, description="Supplier id or name part."
        ),
    ] = None,
    reason: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=PRINTABLE,
            description="Words in the review/failure reason.",
        ),
    ] = None,
    created_from: Annotated[datetime | None, Query(description="Created at or after.")] = None,
    created_to: Annotated[datetime | None, Query(description="Created before.")] = None,
) -> InvoiceFilters:
    """The filters from the query string."""
    check_range(created_from, created_to, ("created_from", "created_to"))
    return InvoiceFilters(status, step, supplier, reason, created_from, created_to)


InvoiceFiltersDep = Annotated[InvoiceFilters, Depends(invoice_filters)]
