"""Activity contracts for the SQL read model and the directory of users."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.approval import AuditEvent, RequestState


class RecordProgressInput(BaseModel):
    """A request's current state (audit trail left out) and the events since the last write."""

    request: RequestState
    events: list[AuditEvent]


class RecordProgressOutput(BaseModel):
    """What the write changed: stale or repeated writes change nothing."""

    request_updated: bool
    events_written: int


class ResolveApproversInput(BaseModel):
    """Roles whose members approve a request, in one org."""

    org_id: str
    roles: list[str] = Field(min_length=1)


class ResolveApproversOutput(BaseModel):
    """Active members of each role (user ids, sorted)."""

    members: dict[str, list[str]]
