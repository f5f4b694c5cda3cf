"""The audit export: request audit events and security events of one org, merged by time into
one stream, never more than a batch of each in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from api.date_range import DateRange
from api.exports import AnySelect, stream_rows
from schemas.approval import EventKind
from store.security_events import SECURITY_EVENT_KINDS, SecurityEvent
from store.tables import AuditRecord

REQUEST_KINDS = frozenset(kind.value for kind in EventKind)
AUDIT_KINDS = REQUEST_KINDS | SECURITY_EVENT_KINDS
AUDIT_COLUMNS = (
    "at",
    "source",
    "kind",
    "actor",
    "ip",
    "subject",
    "request_id",
    "level_id",
    "reason",
    "detail",
)


@dataclass(frozen=True)
class AuditFilters:
    """What the caller asked to see."""

    period: DateRange
    kinds: frozenset[str]
    actor: str | None
    request_id: str | None


def _events(
    model: type[AuditRecord] | type[SecurityEvent],
    names: tuple[str, ...],
    kinds_here: frozenset[str],
    org_id: str,
    filters: AuditFilters,
) -> AnySelect | None:
    """One trail's rows matching the filters, or None when the kinds asked rule it out."""
    kinds = filters.kinds & kinds_here if filters.kinds else None
    if kinds is not None and not kinds:
        return None
    query: AnySelect = select(*(col(getattr(model, n)) for n in names)).where(
        col(model.org_id) == org_id
    )
    if kinds:
        query = query.where(col(model.kind).in_(sorted(kinds)))
    if filters.actor is not None:
        query = query.where(col(model.actor) == filters.actor)
    if filters.period.start is not None:
        query = query.where(col(model.at) >= filters.period.start)
    if filters.period.end is not None:
        query = query.where(col(model.at) < filters.period.end)
    return query


def _request_events(org_id: str, filters: AuditFilters) -> AnySelect | None:
    names = ("at", "kind", "actor", "request_id", "level_id", "reason", "detail")
    query = _events(AuditRecord, names, REQUEST_KINDS, org_id, filters)
    if query is None:
        return None
    if filters.request_id is not None:
        query = query.where(col(AuditRecord.request_id) == filters.request_id)
    return query.order_by(col(AuditRecord.at), col(AuditRecord.request_id), col(AuditRecord.seq))


def _security_events(org_id: str, filters: AuditFilters) -> AnySelect | None:
    if filters.request_id is not None:  # security events belong to no request
        return None
    names = ("at", "kind", "actor", "ip", "subject", "reason", "detail")
    query = _events(SecurityEvent, names, SECURITY_EVENT_KINDS, org_id, filters)
    return None if query is None else query.order_by(col(SecurityEvent.at), col(SecurityEvent.id))


async def _entries(
    engine: AsyncEngine, query: AnySelect | None, source: str
) -> AsyncIterator[dict[str, Any]]:
    if query is None:
        return
    async for row in stream_rows(engine, query):
        detail = dict(row.detail or {})
        if source == "request":
            entry = {
                "ip": detail.get("ip"),
                "subject": f"request:{row.request_id}",
                "request_id": row.request_id,
                "level_id": row.level_id,
            }
        else:
            entry = {"ip": row.ip, "subject": row.subject, "request_id": None, "level_id": None}
        yield {
            "at": row.at,
            "source": source,
            "kind": row.kind,
            "actor": row.actor,
            "reason": row.reason,
            "detail": detail,
        } | entry


async def audit_entries(
    engine: AsyncEngine, org_id: str, filters: AuditFilters
) -> AsyncIterator[dict[str, Any]]:
    """Both trails of the org, oldest first, as one stream of entries."""
    streams = [
        _entries(engine, _request_events(org_id, filters), "request"),
        _entries(engine, _security_events(org_id, filters), "security"),
    ]
    heads: list[dict[str, Any] | None] = [await anext(s, None) for s in streams]
    while True:
        live = [i for i, head in enumerate(heads) if head is not None]
        if not live:
            return
        first = min(live, key=lambda i: heads[i]["at"])  # type: ignore[index]
        entry = heads[first]
        assert entry is not None
        yield {name: entry[name] for name in AUDIT_COLUMNS}
        heads[first] = await anext(streams[first], None)
