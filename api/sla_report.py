"""The SLA report: per template and level, requests, business time to decision, breaches,
escalations and backlog, computed while the level rows stream past in groups."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from api.date_range import DateRange
from api.exports import AnySelect, stream_rows
from schemas.approval import LevelStatus, RequestStatus
from schemas.report_api import SlaRow
from store.tables import RequestLevelRecord, RequestRecord

SLA_COLUMNS = tuple(SlaRow.model_fields)
DECIDED = frozenset({LevelStatus.APPROVED.value, LevelStatus.REJECTED.value})


def percentile(ordered: Sequence[float], share: float) -> float | None:
    """The `share` quantile of sorted values, interpolated between neighbours; None if empty."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _query(org_id: str, created: DateRange) -> AnySelect:
    level, request = RequestLevelRecord, RequestRecord
    query: AnySelect = (
        select(
            col(request.template_key),
            col(level.level_id),
            col(level.name),
            col(level.status),
            col(level.started_at),
            col(level.breached),
            col(level.escalated),
            col(level.business_seconds),
            col(request.status).label("request_status"),
        )
        .join(request, col(request.id) == col(level.request_id))
        .where(col(level.org_id) == org_id, col(request.org_id) == org_id)
    )
    if created.start is not None:
        query = query.where(col(request.created_at) >= created.start)
    if created.end is not None:
        query = query.where(col(request.created_at) < created.end)
    return query.order_by(col(request.template_key), col(level.level_id))


def _summary(rows: list[Row[Any]]) -> SlaRow:
    first = rows[0]
    hours = sorted(
        r.business_seconds / 3600
        for r in rows
        if r.status in DECIDED and r.business_seconds is not None
    )
    started = [r for r in rows if r.started_at is not None]
    return SlaRow(
        template_key=first.template_key,
        level_id=first.level_id,
        level_name=rows[-1].name,
        requests=len(rows),
        decided=sum(1 for r in rows if r.status in DECIDED),
        median_business_hours=percentile(hours, 0.5),
        p90_business_hours=percentile(hours, 0.9),
        breached_share=sum(1 for r in started if r.breached) / len(started) if started else None,
        escalations=sum(1 for r in rows if r.escalated),
        backlog=sum(
            1
            for r in rows
            if r.status == LevelStatus.ACTIVE.value
            and r.request_status == RequestStatus.IN_PROGRESS.value
        ),
    )


async def sla_rows(engine: AsyncEngine, org_id: str, created: DateRange) -> AsyncIterator[SlaRow]:
    """One row per template and level; only one group's rows are held at a time."""
    group: list[Row[Any]] = []
    async for row in stream_rows(engine, _query(org_id, created)):
        if group and (row.template_key, row.level_id) != (group[0].template_key, group[0].level_id):
            yield _summary(group)
            group = []
        group.append(row)
    if group:
        yield _summary(group)
