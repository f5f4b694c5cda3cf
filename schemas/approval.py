"""The approval workflow's contract: its input, state, updates, signals and query."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, JsonValue, model_validator

from schemas.calendar import CalendarSnapshot
from schemas.template import ApprovalMode, Escalation, Tat, TemplateSnapshot, check_mode

SYSTEM_ACTOR = "system"


class RequestStatus(StrEnum):
    """Where a request stands; everything but IN_PROGRESS is final."""

    IN_PROGRESS = "IN_PROGRESS"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class LevelStatus(StrEnum):
    """Where one approval level stands."""

    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


class SlaState(StrEnum):
    """The TAT standing of the current level, as operators filter on it."""

    ON_TRACK = "ON_TRACK"
    AT_RISK = "AT_RISK"
    BREACHED = "BREACHED"
    PAUSED = "PAUSED"


class EventKind(StrEnum):
    """Kinds of audit events; notifications and projections key on them."""

    CREATED = "created"
    LEVEL_STARTED = "level_started"
    APPROVED = "approved"
    REJECTED = "rejected"
    COMMENTED = "commented"
    LEVEL_APPROVED = "level_approved"
    LEVEL_SKIPPED = "level_skipped"
    LEVEL_INSERTED = "level_inserted"
    REASSIGNED = "reassigned"
    REMINDER = "reminder"
    BREACHED = "breached"
    ESCALATED = "escalated"
    PAUSED = "paused"
    RESUMED = "resumed"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    COMPLETED = "completed"
    DECISION_IGNORED = "decision_ignored"
    WARNING = "warning"


class Decision(BaseModel):
    """One person's approve or reject on a level."""

    actor: str
    kind: Literal["approve", "reject"]
    at: datetime
    comment: str | None = None
    round: int = Field(default=0, description="Escalation round the decision was made in.")
    via: str = "api"


class Clock(BaseModel):
    """A business-time budget that can pause: consumed time plus the running stretch."""

    budget_seconds: float
    consumed_seconds: float = 0.0
    running_since: datetime | None = None
    fired: list[float] = Field(default_factory=list, description="Thresholds already acted on.")


class Deadline(BaseModel):
    """A projected TAT threshold of the current clock (None while paused)."""

    threshold: float
    kind: Literal["reminder", "breach", "expiry"]
    due: datetime | None
    fired_at: datetime | None = None


class LevelState(BaseModel):
    """One level of a running request."""

    level_id: str
    name: str
    approvers: list[str]
    mode: ApprovalMode
    required_approvals: int | None = Field(default=None, description="For mode n_of.")
    tat: Tat
    reminder_thresholds: list[float]
    escalation: Escalation
    status: LevelStatus = LevelStatus.PENDING
    decisions: list[Decision] = Field(default_factory=list)
    round: int = 0
    escalated: bool = False
    clock: Clock | None = None
    deadlines: list[Deadline] = Field(default_factory=list)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    business_seconds: float | None = Field(
        default=None, description="Business time from start to end, set when the level ends."
    )
    inserted_by: str | None = None

    def approvals(self) -> set[str]:
        """Current approvers who approved in the current round."""
        return {
            d.actor
            for d in self.decisions
            if d.kind == "approve" and d.round == self.round and d.actor in self.approvers
        }

    def needed(self) -> int:
        """Approvals that complete the level in its mode."""
        if self.mode == "any":
            return 1
        if self.mode == "all":
            return max(1, len(self.approvers))
        return self.required_approvals or 1

    def pending_approvers(self) -> list[str]:
        """Approvers of this level who have not decided in this round."""
        decided = {d.actor for d in self.decisions if d.round == self.round}
        return [a for a in self.approvers if a not in decided]


class AuditEvent(BaseModel):
    """One entry of the request's audit trail; seq is unique and increasing per request."""

    seq: int
    at: datetime
    kind: EventKind
    actor: str
    level_id: str | None = None
    reason: str | None = None
    detail: dict[str, JsonValue] = Field(default_factory=dict)
    recipients: list[str] = Field(default_factory=list, description="Who is told about it.")


class RequestState(BaseModel):
    """The whole live state of a request, as the query returns it."""

    request_id: str
    org_id: str
    template_key: str
    template_version: int
    template_name: str
    title: str
    requester: str
    amount: Decimal | None = None
    currency: str | None = None
    department: str | None = None
    priority: str
    fields: dict[str, JsonValue] = Field(default_factory=dict)
    status: RequestStatus = RequestStatus.IN_PROGRESS
    outcome_reason: str | None = None
    current_level: int | None = None
    levels: list[LevelState]
    paused: bool = False
    paused_at: datetime | None = None
    pause_reason: str | None = None
    sla_state: SlaState = SlaState.ON_TRACK
    request_clock: Clock | None = None
    request_deadline: Deadline | None = None
    created_at: datetime
    closed_at: datetime | None = None
    audit: list[AuditEvent] = Field(default_factory=list)
    next_level_number: int = 1
    published_seq: int = Field(default=0, description="Last audit seq written to the read model.")
    runs: int = Field(default=1, description="Workflow runs so far (continue-as-new).")

    @property
    def is_open(self) -> bool:
        """True until the request reaches a final status."""
        return self.status == RequestStatus.IN_PROGRESS

    def active_level(self) -> LevelState | None:
        """The level waiting for decisions, if any."""
        if self.current_level is None:
            return None
        return self.levels[self.current_level]

    def find_level(self, level_id: str) -> LevelState | None:
        """A level by its stable id."""
        return next((lv for lv in self.levels if lv.level_id == level_id), None)


class ApprovalInput(BaseModel):
    """Start a request: the template and calendar snapshots plus the request's own data."""

    org_id: str = Field(min_length=1)
    template: TemplateSnapshot
    calendar: CalendarSnapshot
    requester: str = Field(min_length=1)
    title: str = Field(min_length=1, max_length=300)
    amount: Decimal | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    department: str | None = None
    priority: str = "STANDARD"
    fields: dict[str, JsonValue] = Field(default_factory=dict)
    flags: list[str] = Field(
        default_factory=list, description="Routing flags, e.g. an invoice's validation warnings."
    )
    resume_state: RequestState | None = Field(
        default=None, description="Set only by continue-as-new: the state to carry on from."
    )

    @model_validator(mode="after")
    def _known_priority(self) -> ApprovalInput:
        if self.priority not in self.calendar.priority_factors:
            known = ", ".join(sorted(self.calendar.priority_factors))
            raise ValueError(f"unknown priority {self.priority!r} (known: {known})")
        return self


class ApprovalResult(BaseModel):
    """How a request ended."""

    request_id: str
    status: RequestStatus
    reason: str | None = None
    closed_at: datetime


class UpdateResult(BaseModel):
    """What a decision or override returns: the new state and the events it recorded."""

    request: RequestState = Field(description="The new state, its audit trail left out.")
    events: list[AuditEvent]


class OpenedInput(BaseModel):
    """Wait until the request has opened (approvers resolved) and get its first state."""


class StateQuery(BaseModel):
    """Ask for the live state; `audit_since` trims the audit trail to later events."""

    audit_since: int = 0


# ---- decisions (updates, and the same through a signal) ----


class ActorInput(BaseModel):
    """Who acts, and from which address (recorded in the audit detail as `ip`)."""

    actor: str = Field(min_length=1)
    ip: str | None = Field(default=None, max_length=64, description="The caller's IP address.")


class ApproveInput(ActorInput):
    """Approve the current level, optionally with a comment."""

    comment: str | None = Field(default=None, max_length=5000)
    level_id: str | None = Field(default=None, description="Refuse if this level is not current.")
    via: str = "api"


class RejectInput(ActorInput):
    """Reject the request at the current level; a reason is required."""

    reason: str = Field(min_length=1, max_length=5000)
    level_id: str | None = None
    via: str = "api"


class CommentInput(ActorInput):
    """A comment on the request; changes nothing else."""

    text: str = Field(min_length=1, max_length=5000)
    via: str = "api"


class WithdrawInput(ActorInput):
    """The requester takes the request back."""

    reason: str | None = Field(default=None, max_length=5000)


class DecisionSignal(ActorInput):
    """A decision sent fire-and-forget (e-mail reply, poller): refused ones are audited."""

    kind: Literal["approve", "reject", "comment"]
    text: str | None = Field(default=None, max_length=5000)
    level_id: str | None = None
    via: str = Field(default="signal", examples=["email"])
    message_id: str | None = Field(
        default=None, max_length=300, description="The e-mail that carried the decision, if any."
    )


# ---- overrides (updates; actor and reason always) ----


class _Override(ActorInput):
    reason: str = Field(min_length=1, max_length=5000)


class SkipLevelInput(_Override):
    """Skip the current level, or a named pending one."""

    level_id: str | None = None


class InsertLevelInput(_Override):
    """Insert an approval level at a position (0-based; at the current one it takes over)."""

    position: int = Field(ge=0)
    approvers: list[str] = Field(min_length=1)
    name: str = Field(default="Inserted approval", min_length=1, max_length=200)
    mode: ApprovalMode = "any"
    required_approvals: int | None = Field(default=None, ge=1)
    tat: Tat = Field(default_factory=lambda: Tat(hours=8))

    @model_validator(mode="after")
    def _consistent(self) -> InsertLevelInput:
        check_mode(self.mode, self.required_approvals, len(set(self.approvers)))
        return self


class ReassignInput(_Override):
    """Move one pending approval of the current level to someone else (also delegation)."""

    from_user: str = Field(min_length=1)
    to_user: str = Field(min_length=1)


class PauseInput(_Override):
    """Stop the SLA clock."""


class ResumeInput(_Override):
    """Restart the SLA clock; every pending deadline moves by the paused time."""


class CancelInput(_Override):
    """End the request as CANCELLED."""


# ApplicationError types of refused updates: the API answers 403 for the first, 409 for the other.
REFUSED_FORBIDDEN = "SignoffForbidden"
REFUSED_CONFLICT = "SignoffConflict"
REFUSAL_TYPES = {"forbidden": REFUSED_FORBIDDEN, "conflict": REFUSED_CONFLICT}
