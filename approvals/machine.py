"""The whole request state machine: pure transitions over RequestState.

The workflow calls `check_*` from update validators (refusals never reach history) and the
matching method from the handler. Each transition appends audit events; the workflow
publishes them to the read model and notifies their recipients.
"""

from __future__ import annotations

from datetime import datetime

from approvals import clocks
from approvals.core import unique_in_order
from approvals.decisions import DecisionRules
from approvals.overrides import OverrideRules
from approvals.timers import TatTimers
from bizcal.calendar import BusinessCalendar
from schemas.approval import (
    SYSTEM_ACTOR,
    ApprovalInput,
    EventKind,
    RequestState,
)
from schemas.template import LevelTemplate


class RequestMachine(DecisionRules, OverrideRules, TatTimers):
    """A request's state plus its calendar; methods apply one transition each."""

    @classmethod
    def open(
        cls,
        request_id: str,
        inp: ApprovalInput,
        role_members: dict[str, list[str]],
        now: datetime,
    ) -> RequestMachine:
        """Create the request: route levels, resolve approvers, start the first level."""
        state = RequestState(
            request_id=request_id,
            org_id=inp.org_id,
            template_key=inp.template.key,
            template_version=inp.template.version,
            template_name=inp.template.name,
            title=inp.title,
            requester=inp.requester,
            amount=inp.amount,
            currency=inp.currency,
            department=inp.department,
            priority=inp.priority,
            fields=inp.fields,
            levels=[],
            created_at=now,
        )
        machine = cls(state, BusinessCalendar(inp.calendar))
        machine._record(now, EventKind.CREATED, inp.requester, detail={"title": inp.title})
        for template in inp.template.levels:
            if template.when and not template.when.matches(
                inp.amount, inp.department, inp.priority, inp.flags
            ):
                continue
            machine._append_level(template, role_members, now)
        if inp.template.overall_tat is not None:
            budget = machine.cal.tat_seconds(now, inp.template.overall_tat, inp.priority)
            state.request_clock = clocks.start_clock(budget, now)
        machine._advance(now)
        return machine

    def _append_level(
        self, template: LevelTemplate, role_members: dict[str, list[str]], now: datetime
    ) -> None:
        named = list(template.approvers.users)
        by_role = role_members.get(template.approvers.role, []) if template.approvers.role else []
        approvers = unique_in_order(named + by_role)
        level = self._new_level(
            name=template.name,
            approvers=[a for a in approvers if a != self.state.requester],
            mode=template.mode,
            required=template.required_approvals,
            template=template,
        )
        self.state.levels.append(level)
        if self.state.requester in approvers:
            self._record(
                now,
                EventKind.WARNING,
                SYSTEM_ACTOR,
                level,
                reason="the requester cannot approve their own request and was left out",
            )
