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


def _request_events(org_id: str, filters: AuditFilters) -> AnySelect | None:
    kinds = filters.kinds & REQUEST_KINDS if filters.kinds else None
    if kinds is not None and not kinds:
        return None
    a = AuditRecord
    names = ("at", "kind", "actor", "request_id", "level_id", "reason", "detail")
    query: AnySelect = select(*(col(getattr(a, n)) for n in names)).where(col(a.org_id) == org_id)
    if kinds:
        query = query.where(col(a.kind).in_(sorted(kinds)))
    if filters.actor is not None:
        query = query.where(col(a.actor) == filters.actor)
    if filters.request_id is not None:
        query = query.where(col(a.request_id) == filters.request_id)
    if filters.period.start is not None:
        query = query.where(col(a.at) >= filters.period.start)
    if filters.period.end is not None:
        query = query.where(col(a.at) < filters.period.end)
    return query.order_by(col(a.at), col(a.request_id), col(a.seq))


def _security_events(org_id: str, filters: AuditFilters) -> AnySelect | None:
    kinds = filters.kinds & SECURITY_EVENT_KINDS if filters.kinds else None
    if (kinds is not None and not kinds) or filters.request_id is not None:
        return None
    s = SecurityEvent
    names = ("at", "kind", "actor", "ip", "subject", "reason", "detail")
    query: AnySelect = select(*(col(getattr(s, n)) for n in names)).where(col(s.org_id) == org_id)
    if kinds:
        query = query.where(col(s.kind).in_(sorted(kinds)))
    if filters.actor is not None:
        query = query.where(col(s.actor) == filters.actor)
    if filters.period.start is not None:
        query = query.where(col(s.at) >= filters.period.start)
    if filters.period.end is not None:
        query = query.where(col(s.at) < filters.period.end)
    return query.order_by(col(s.at), col(s.id))


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
