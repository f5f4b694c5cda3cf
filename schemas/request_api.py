"""The API's request contract: starting, listing, reading, deciding, overriding."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, JsonValue, model_validator

from schemas.approval import AuditEvent, RequestState
from schemas.template import ApprovalMode, Tat, check_mode
from schemas.text import Text

# A user id as the API takes one: SQL looks it up, so it must be text SQL can hold.
UserId = Annotated[Text, Field(min_length=1, max_length=64)]


class StartRequest(BaseModel):
    """Start a request from the latest (or a given) version of a template."""

    template_key: str = Field(min_length=1, max_length=100)
    template_version: int | None = Field(default=None, ge=1, le=1_000_000)
    title: str = Field(min_length=1, max_length=300)
    amount: Decimal | None = Field(default=None, ge=0, max_digits=20, decimal_places=4)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    department: str | None = Field(default=None, min_length=1, max_length=100)
    priority: str = Field(default="STANDARD", min_length=1, max_length=32)
    fields: dict[str, JsonValue] = Field(default_factory=dict)


class RequestSummary(BaseModel):
    """A request as lists show it (from the read model)."""

    id: str
    template_key: str
    template_version: int
    title: str
    requester: str
    amount: Decimal | None
    currency: str | None
    department: str | None
    priority: str
    status: str
    sla_state: str
    current_level_id: str | None
    paused: bool
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class RequestPage(BaseModel):
    """A page of requests, newest first."""

    items: list[RequestSummary]
    total: int
    limit: int
    offset: int


class DocumentOut(BaseModel):
    """A file attached to a request."""

    id: str
    request_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    created_at: datetime


class RequestDetail(BaseModel):
    """The live state of a request, its audit trail and documents."""

    request: RequestState
    documents: list[DocumentOut]
    source: Literal["workflow", "read_model"] = Field(
        description="Where the state came from: the workflow itself, or the SQL copy."
    )


class DecisionOut(BaseModel):
    """The new state after a decision or override, and the events it recorded."""

    request: RequestState
    events: list[AuditEvent]


class ApproveBody(BaseModel):
    """Approve the current level."""

    comment: str | None = Field(default=None, max_length=5000)
    level_id: str | None = Field(default=None, description="Refuse unless this level is current.")


class RejectBody(BaseModel):
    """Reject the request."""

    reason: str = Field(min_length=1, max_length=5000)
    level_id: str | None = None


class CommentBody(BaseModel):
    """A comment."""

    text: str = Field(min_length=1, max_length=5000)


class WithdrawBody(BaseModel):
    """Withdraw the request."""

    reason: str | None = Field(default=None, max_length=5000)


class ReasonBody(BaseModel):
    """An override that needs only a reason (pause, resume)."""

    reason: str = Field(min_length=1, max_length=5000)


class SkipBody(ReasonBody):
    """Skip the current level, or a named one."""

    level_id: str | None = None


class InsertApproverBody(ReasonBody):
    """Insert an approval level at a position (0-based)."""

    position: int = Field(ge=0, le=100)
    approvers: list[UserId] = Field(min_length=1, max_length=50)
    name: str = Field(default="Inserted approval", min_length=1, max_length=200)
    mode: ApprovalMode = "any"
    required_approvals: int | None = Field(default=None, ge=1)
    tat: Tat = Field(default_factory=lambda: Tat(hours=8))

    @model_validator(mode="after")
    def _consistent(self) -> InsertApproverBody:
        # Refused here with a 422: inside the workflow it would fail the workflow task.
        check_mode(self.mode, self.required_approvals, len(set(self.approvers)))
        return self


class ReassignBody(ReasonBody):
    """Move a pending approval to someone else."""

    from_user: UserId
    to_user: UserId
