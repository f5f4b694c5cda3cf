"""The audit export (ADMIN, MANAGEMENT): decisions, overrides and comments of requests beside
logins, MFA, role and secret changes, with actor, time, IP and reason; JSON lines or CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.audit_export import AUDIT_COLUMNS, AUDIT_KINDS, AuditFilters, audit_entries
from api.date_range import DateRangeDep
from api.deps import ContextDep, ManagerUser
from api.exports import NDJSON, csv_download, csv_lines, json_line, jsonl_download
from api.org_rows import PRINTABLE
from api.problems import Problem

router = APIRouter(tags=["reports"])


async def _jsonl(entries: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    async for entry in entries:
        yield json_line(entry)


@router.get(
    "/audit",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {NDJSON: {}, "text/csv": {}},
            "description": "One entry per line: " + ", ".join(AUDIT_COLUMNS),
        }
    },
)
async def audit_export(
    user: ManagerUser,
    context: ContextDep,
    period: DateRangeDep,
    kind: Annotated[
        list[str] | None,
        Query(max_length=50, description="Event kinds, e.g. approved, login_failed (repeatable)."),
    ] = None,
    actor: Annotated[
        str | None, Query(min_length=1, max_length=320, pattern=PRINTABLE, description="User id.")
    ] = None,
    request_id: Annotated[
        str | None, Query(min_length=1, max_length=128, pattern=PRINTABLE)
    ] = None,
    format: Annotated[Literal["jsonl", "csv"], Query(description="jsonl or csv.")] = "jsonl",
) -> StreamingResponse:
    """Every audited act of the caller's org matching the filters, oldest first, streamed."""
    unknown = sorted(set(kind or ()) - AUDIT_KINDS)
    if unknown:
        raise Problem(
            422, f"unknown kind {', '.join(unknown)}; known: {', '.join(sorted(AUDIT_KINDS))}"
        )
    filters = AuditFilters(period, frozenset(kind or ()), actor, request_id)
    entries = audit_entries(context.engine, user.org_id, filters)
    if format == "csv":
        return csv_download(csv_lines(AUDIT_COLUMNS, entries), "audit.csv")
    return jsonl_download(_jsonl(entries), "audit.jsonl")
