"""The core of a request's state machine: levels, events, clocks and how a request ends."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from approvals import clocks
from bizcal.calendar import BusinessCalendar
from schemas.approval import (
    SYSTEM_ACTOR,
    AuditEvent,
    EventKind,
    LevelState,
    LevelStatus,
    RequestState,
    RequestStatus,
    SlaState,
)
from schemas.template import LevelTemplate


class Refused(Exception):
    """A decision or override that the request's state or the actor's place does not allow."""

    def __init__(self, reason: str, kind: Literal["forbidden", "conflict"] = "conflict") -> None:
        """Keep the reason for the caller; kind says whether it is about who or about state."""
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def unique_in_order(items: Iterable[str]) -> list[str]:
    """The items without repeats, first occurrence kept."""
    return list(dict.fromkeys(items))


class RequestCore:
    """A request's state plus its calendar, and the steps every rule builds on."""

    def __init__(self, state: RequestState, calendar: BusinessCalendar) -> None:
        """Wrap an existing state (new, resumed after continue-as-new, or in a test)."""
        self.state = state
        self.cal = calendar

    def _new_level(
        self,
        *,
        name: str,
        approvers: list[str],
        mode: Literal["any", "all", "n_of"],
        required: int | None,
        template: LevelTemplate,
        inserted_by: str | None = None,
    ) -> LevelState:
        level_id = f"L{self.state.next_level_number}"
        self.state.next_level_number += 1
        return LevelState(
            level_id=level_id,
            name=name,
            approvers=approvers,
            mode=mode,
            required_approvals=required,
            tat=template.tat,
            reminder_thresholds=template.reminder_thresholds,
            escalation=template.escalation,
            inserted_by=inserted_by,
        )

    # ---- events ----------------------------------------------------------------------------

    def _record(
        self,
        now: datetime,
        kind: EventKind,
        actor: str,
        level: LevelState | None = None,
        *,
        reason: str | None = None,
        detail: dict[str, object] | None = None,
        recipients: Iterable[str] = (),
    ) -> AuditEvent:
        audit = self.state.audit
        seq = audit[-1].seq + 1 if audit else 1
        event = AuditEvent.model_validate(
            {
                "seq": seq,
                "at": now,
                "kind": kind,
                "actor": actor,
                "level_id": level.level_id if level else None,
                "reason": reason,
                "detail": detail or {},
                # People hear of what others did; a refused decision is told to its sender.
                "recipients": [
                    r
                    for r in unique_in_order(recipients)
                    if r != actor or kind == EventKind.DECISION_IGNORED
                ],
            }
        )
        audit.append(event)
        return event

    # ---- levels and the end ----------------------------------------------------------------

    def _advance(self, now: datetime) -> None:
        """Start the next pending level after the current one, or approve the request."""
        start = 0 if self.state.current_level is None else self.state.current_level + 1
        for index in range(start, len(self.state.levels)):
            if self.state.levels[index].status == LevelStatus.PENDING:
                self._activate(index, now)
                return
        self.state.current_level = None
        reason = "every level approved" if self.state.levels else "no approval level applies"
        self._close(now, RequestStatus.APPROVED, SYSTEM_ACTOR, reason)

    def _activate(self, index: int, now: datetime) -> None:
        level = self.state.levels[index]
        self.state.current_level = index
        level.status = LevelStatus.ACTIVE
        level.started_at = now
        budget = self.cal.tat_seconds(now, level.tat, self.state.priority)
        level.clock = clocks.start_clock(budget, now)
        if self.state.paused:
            clocks.pause(self.cal, level.clock, now)
        level.deadlines = []
        self._reproject(now)
        self._record(
            now,
            EventKind.LEVEL_STARTED,
            SYSTEM_ACTOR,
            level,
            detail={"approvers": list(level.approvers), "tat": level.tat.describe()},
            recipients=level.pending_approvers(),
        )
        if len(level.approvers) < level.needed():
            self._record(
                now,
                EventKind.WARNING,
                SYSTEM_ACTOR,
                level,
                reason=(
                    f"level needs {level.needed()} approvals but has {len(level.approvers)} "
                    "approvers: reassign, insert or skip"
                ),
            )

    def _finish_level(self, level: LevelState, status: LevelStatus, now: datetime) -> None:
        level.status = status
        level.ended_at = now
        if level.started_at is not None:  # for SLA reports: time to decision, pauses included
            level.business_seconds = self.cal.business_seconds_between(level.started_at, now)
        if level.clock is not None:
            clocks.pause(self.cal, level.clock, now)

    def _close(
        self,
        now: datetime,
        status: RequestStatus,
        actor: str,
        reason: str | None,
        also_tell: list[str] | None = None,
    ) -> None:
        told = [self.state.requester] + (also_tell or [])
        for level in self.state.levels:
            if level.status == LevelStatus.ACTIVE:
                told += level.pending_approvers()
                self._finish_level(level, LevelStatus.CANCELLED, now)
            elif level.status == LevelStatus.PENDING:
                level.status = LevelStatus.CANCELLED
        if self.state.request_clock is not None:
            clocks.pause(self.cal, self.state.request_clock, now)
        self.state.status = status
        self.state.outcome_reason = reason
        self.state.closed_at = now
        self.state.current_level = None
        self._record(
            now,
            EventKind.COMPLETED,
            actor,
            reason=reason,
            detail={"status": status.value},
            recipients=told,
        )

    def _reproject(self, now: datetime) -> None:
        """Recompute projected deadlines and the SLA state after any clock change."""
        level = self.state.active_level()
        if level is not None and level.clock is not None:
            marks: list[tuple[float, clocks.DeadlineKind]] = [
                (t, "reminder") for t in level.reminder_thresholds
            ]
            marks.append((1.0, "breach"))
            level.deadlines = clocks.project(self.cal, level.clock, marks, level.deadlines)
        if self.state.request_clock is not None:
            previous = [self.state.request_deadline] if self.state.request_deadline else []
            (self.state.request_deadline,) = clocks.project(
                self.cal, self.state.request_clock, [(1.0, "expiry")], previous
            )
        self.state.sla_state = self._sla(level)

    def _sla(self, level: LevelState | None) -> SlaState:
        if level is None or level.clock is None:
            return self.state.sla_state
        if self.state.paused:
            return SlaState.PAUSED
        fired = level.clock.fired
        if 1.0 in fired:
            return SlaState.BREACHED
        if level.reminder_thresholds and max(level.reminder_thresholds) in fired:
            return SlaState.AT_RISK
        return SlaState.ON_TRACK

    # ---- checks shared by decisions ----------------------------------------------------------

    def _require_open(self) -> None:
        if not self.state.is_open:
            raise Refused(f"the request is already {self.state.status.value}")

    def _current_for(self, actor: str, level_id: str | None) -> LevelState:
        self._require_open()
        level = self.state.active_level()
        if level is None:  # pragma: no cover - an open request always has a level
            raise Refused("no level is waiting for decisions")
        if level_id is not None and level_id != level.level_id:
            raise Refused(f"level {level_id} is no longer current (now {level.level_id})")
        if actor not in level.approvers:
            raise Refused(f"{actor} is not an approver of level {level.level_id}", "forbidden")
        if actor not in level.pending_approvers():
            raise Refused(f"{actor} has already decided on level {level.level_id}")
        return level
