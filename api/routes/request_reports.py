"""Request reports for MANAGEMENT and ADMIN: every request as CSV, and the SLA per template and
level (JSON or CSV), both streamed from the read model and scoped to the caller's org."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlmodel import col

from api.date_range import DateRangeDep, check_range
from api.deps import ContextDep, ManagerUser
from api.exports import AnySelect, csv_download, csv_lines, stream_rows
from api.org_rows import PRINTABLE
from api.sla_report import SLA_COLUMNS, sla_rows
from schemas.approval import RequestStatus
from schemas.report_api import SlaReport
from store.tables import RequestRecord

router = APIRouter(tags=["reports"])

REQUEST_COLUMNS = (
    "id",
    "template_key",
    "template_version",
    "title",
    "requester",
    "amount",
    "currency",
    "department",
    "priority",
    "status",
    "sla_state",
    "current_level_id",
    "paused",
    "created_at",
    "updated_at",
    "closed_at",
)


def _requests_query(
    org_id: str,
    status: RequestStatus | None,
    template: str | None,
    created_from: datetime | None,
    created_to: datetime | None,
) -> AnySelect:
    query: AnySelect = select(*(getattr(RequestRecord, name) for name in REQUEST_COLUMNS)).where(
        col(RequestRecord.org_id) == org_id
    )
    if status is not None:
        query = query.where(col(RequestRecord.status) == status.value)
    if template is not None:
        query = query.where(col(RequestRecord.template_key) == template)
    if created_from is not None:
        query = query.where(col(RequestRecord.created_at) >= created_from)
    if created_to is not None:
        query = query.where(col(RequestRecord.created_at) < created_to)
    return query.order_by(col(RequestRecord.created_at), col(RequestRecord.id))


@router.get(
    "/reports/requests.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "One line per request"}},
)
async def requests_csv(
    user: ManagerUser,
    context: ContextDep,
    status: Annotated[RequestStatus | None, Query()] = None,
    template: Annotated[
        str | None, Query(min_length=1, max_length=100, pattern=PRINTABLE, description="Key.")
    ] = None,
    created_from: Annotated[datetime | None, Query(description="Created at or after.")] = None,
    created_to: Annotated[datetime | None, Query(description="Created before.")] = None,
) -> StreamingResponse:
    """Every request matching the filters, oldest first, streamed (any size)."""
    check_range(created_from, created_to, ("created_from", "created_to"))
    query = _requests_query(user.org_id, status, template, created_from, created_to)
    return csv_download(
        csv_lines(REQUEST_COLUMNS, stream_rows(context.engine, query)), "requests.csv"
    )


@router.get(
    "/reports/sla",
    response_model=SlaReport,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}},
)
async def sla(
    user: ManagerUser,
    context: ContextDep,
    created: DateRangeDep,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv.")] = "json",
) -> SlaReport | StreamingResponse:
    """Per template and level, for requests created in the range: volume, business hours to
    decision (median, p90), share breached, escalations and the current backlog."""
    rows = sla_rows(context.engine, user.org_id, created)
    if format == "csv":
        return csv_download(csv_lines(SLA_COLUMNS, rows), "sla.csv")
    return SlaReport(
        created_from=created.start, created_to=created.end, rows=[row async for row in rows]
    )
