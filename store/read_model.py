"""Writes of request progress into the SQL read model, safe to repeat and to arrive late."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, delete

from schemas.approval import AuditEvent, LevelState, RequestState
from schemas.projection import RecordProgressInput, RecordProgressOutput
from store.tables import (
    AuditRecord,
    RequestAssignee,
    RequestLevelRecord,
    RequestRecord,
)
from store.upsert import insert_missing, upsert, upsert_newer


def _request_row(request: RequestState, version: int, at: Any) -> dict[str, Any]:
    level = request.active_level()
    return {
        "id": request.request_id,
        "org_id": request.org_id,
        "template_key": request.template_key,
        "template_version": request.template_version,
        "title": request.title,
        "requester": request.requester,
        "amount": request.amount,
        "currency": request.currency,
        "department": request.department,
        "priority": request.priority,
        "status": request.status.value,
        "sla_state": request.sla_state.value,
        "current_level_id": level.level_id if level else None,
        "paused": request.paused,
        "created_at": request.created_at,
        "updated_at": at,
        "closed_at": request.closed_at,
        "version": version,
        "snapshot": request.model_dump(mode="json", exclude={"audit"}),
    }


def _level_row(request: RequestState, position: int, level: LevelState) -> dict[str, Any]:
    breach = next((d for d in level.deadlines if d.kind == "breach"), None)
    return {
        "request_id": request.request_id,
        "level_id": level.level_id,
        "org_id": request.org_id,
        "position": position,
        "name": level.name,
        "status": level.status.value,
        "mode": level.mode,
        "approvers": list(level.approvers),
        "started_at": level.started_at,
        "ended_at": level.ended_at,
        "breach_due": breach.due if breach else None,
        "breached": bool(level.clock and 1.0 in level.clock.fired) or level.escalated,
        "escalated": level.escalated,
        "business_seconds": level.business_seconds,
    }


def _event_row(request: RequestState, event: AuditEvent) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "seq": event.seq,
        "org_id": request.org_id,
        "at": event.at,
        "kind": event.kind.value,
        "actor": event.actor,
        "level_id": event.level_id,
        "reason": event.reason,
        "detail": event.detail,
    }


def write_progress(session: Session, progress: RecordProgressInput) -> RecordProgressOutput:
    """Apply a request's new state and events; an older or repeated write changes nothing."""
    request, events = progress.request, progress.events
    version = max((e.seq for e in events), default=0)
    at = events[-1].at if events else request.created_at
    updated = upsert_newer(
        session,
        RequestRecord,
        _request_row(request, version, at),
        ["id"],
        "version",
    )
    if updated:
        upsert(
            session,
            RequestLevelRecord,
            [_level_row(request, i, lv) for i, lv in enumerate(request.levels)],
            ["request_id", "level_id"],
        )
        session.execute(
            delete(RequestAssignee).where(col(RequestAssignee.request_id) == request.request_id)
        )
        level = request.active_level()
        if level is not None and request.is_open:
            insert_missing(
                session,
                RequestAssignee,
                [
                    {"request_id": request.request_id, "user_id": u, "org_id": request.org_id}
                    for u in level.pending_approvers()
                ],
                ["request_id", "user_id"],
            )
    written = insert_missing(
        session,
        AuditRecord,
        [_event_row(request, e) for e in events],
        ["request_id", "seq"],
    )
    return RecordProgressOutput(request_updated=updated, events_written=written)
