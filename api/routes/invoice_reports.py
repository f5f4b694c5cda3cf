"""The invoice export: every invoice matching the filters as CSV, streamed page by page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from sqlmodel import and_, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ContextDep, ManagerUser
from api.exports import BATCH, csv_download, csv_line
from api.invoice_filters import InvoiceFilters, InvoiceFiltersDep
from store.invoice_tables import InvoiceRecord

router = APIRouter(tags=["reports"])

COLUMNS = (
    "id",
    "status",
    "step",
    "reason",
    "supplier_id",
    "supplier_name",
    "invoice_number",
    "invoice_date",
    "total",
    "currency",
    "source",
    "sender",
    "approval_request_id",
    "erp_document",
    "created_at",
    "updated_at",
)
PAGE = BATCH


async def _rows(context: ContextDep, org_id: str, filters: InvoiceFilters) -> AsyncIterator[str]:
    yield csv_line(list(COLUMNS))
    after: tuple[datetime, str] | None = None
    async with AsyncSession(context.engine) as session:
        while True:
            query = filters.apply(select(InvoiceRecord), org_id)
            if after is not None:
                created, ident = after
                query = query.where(
                    or_(
                        col(InvoiceRecord.created_at) > created,
                        and_(
                            col(InvoiceRecord.created_at) == created, col(InvoiceRecord.id) > ident
                        ),
                    )
                )
            page = (
                await session.exec(
                    query.order_by(col(InvoiceRecord.created_at), col(InvoiceRecord.id)).limit(PAGE)
                )
            ).all()
            for row in page:
                yield csv_line([getattr(row, name) for name in COLUMNS])
            if len(page) < PAGE:
                return
            after = (page[-1].created_at, page[-1].id)
            session.expunge_all()


@router.get(
    "/reports/invoices.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One line per invoice"}},
)
async def invoices_csv(
    user: ManagerUser, context: ContextDep, filters: InvoiceFiltersDep
) -> StreamingResponse:
    """Every invoice matching the filters, oldest first, streamed (any size)."""
    return csv_download(_rows(context, user.org_id, filters), "invoices.csv")
