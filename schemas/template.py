"""Approval templates: levels, approvers, TAT, escalation and routing, as requests snapshot them."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator

ApprovalMode = Literal["any", "all", "n_of"]
EscalationAction = Literal["notify", "reassign", "auto_approve", "auto_reject"]


class Tat(BaseModel):
    """A turnaround time in business hours or in whole business days (exactly one of them)."""

    hours: float | None = Field(default=None, gt=0, examples=[16])
    days: int | None = Field(default=None, gt=0, examples=[2])

    @model_validator(mode="after")
    def _exactly_one(self) -> Tat:
        if (self.hours is None) == (self.days is None):
            raise ValueError("give a TAT in business hours or in business days, exactly one")
        return self

    def describe(self) -> str:
        """Human wording such as "16 business hours" or "1 business day"."""
        if self.days is not None:
            return f"{self.days} business day{'s' if self.days != 1 else ''}"
        return f"{self.hours:g} business hour{'s' if self.hours != 1 else ''}"


class ApproverSelector(BaseModel):
    """Who approves a level: named users, everyone holding a role (resolved at start), or both."""

    users: list[str] = Field(default_factory=list)
    role: str | None = None

    @model_validator(mode="after")
    def _someone(self) -> ApproverSelector:
        if not self.users and not self.role:
            raise ValueError("a level needs approvers: users, a role, or both")
        return self


class Escalation(BaseModel):
    """What happens when a level's TAT is breached."""

    action: EscalationAction = "notify"
    notify: list[str] = Field(default_factory=list, description="Users told of the breach.")
    reassign_to: list[str] = Field(
        default_factory=list, description="For action=reassign: who takes the level over."
    )

    @model_validator(mode="after")
    def _reassign_needs_target(self) -> Escalation:
        if self.action == "reassign" and not self.reassign_to:
            raise ValueError("escalation action 'reassign' needs reassign_to")
        return self


class RoutingCondition(BaseModel):
    """A level applies only when the request matches all of these."""

    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    departments: list[str] = Field(default_factory=list)
    priorities: list[str] = Field(default_factory=list)
    flags: list[str] = Field(
        default_factory=list,
        description="Applies only when the request carries one of these flags, e.g. an "
        "invoice's validation warnings ('customer_name', 'purchase_order').",
    )

    def matches(
        self,
        amount: Decimal | None,
        department: str | None,
        priority: str,
        flags: Sequence[str] = (),
    ) -> bool:
        """True when a request with these values should pass through the level."""
        if self.flags and not set(self.flags) & set(flags):
            return False
        if self.min_amount is not None and (amount is None or amount < self.min_amount):
            return False
        if self.max_amount is not None and (amount is None or amount > self.max_amount):
            return False
        if self.departments and department not in self.departments:
            return False
        return not (self.priorities and priority not in self.priorities)


def check_mode(mode: ApprovalMode, required_approvals: int | None, users: int | None) -> None:
    """Refuse a mode and count that do not go together (`users`: how many, None for a role)."""
    if mode == "n_of":
        if required_approvals is None:
            raise ValueError("mode n_of needs required_approvals")
        if users is not None and required_approvals > users:
            raise ValueError("required_approvals is more than the level's approvers")
    elif required_approvals is not None:
        raise ValueError("required_approvals only goes with mode n_of")


class LevelTemplate(BaseModel):
    """One approval level of a template."""

    name: str = Field(min_length=1, max_length=200)
    approvers: ApproverSelector
    mode: ApprovalMode = "any"
    required_approvals: int | None = Field(default=None, ge=1, description="For mode n_of.")
    tat: Tat
    reminder_thresholds: list[float] = Field(default_factory=lambda: [0.5, 0.75])
    escalation: Escalation = Field(default_factory=Escalation)
    when: RoutingCondition | None = None

    @model_validator(mode="after")
    def _consistent(self) -> LevelTemplate:
        users = None if self.approvers.role else len(set(self.approvers.users))
        check_mode(self.mode, self.required_approvals, users)
        for threshold in self.reminder_thresholds:
            if not 0 < threshold < 1:
                raise ValueError("reminder thresholds are fractions between 0 and 1, e.g. 0.5")
        self.reminder_thresholds = sorted(set(self.reminder_thresholds))
        return self


class TemplateSnapshot(BaseModel):
    """A template version exactly as a request started with it."""

    key: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    version: int = Field(default=1, ge=1)
    name: str = Field(min_length=1, max_length=200)
    levels: list[LevelTemplate] = Field(min_length=1)
    overall_tat: Tat | None = Field(
        default=None, description="Past this the request ends EXPIRED (the clock pauses too)."
    )
