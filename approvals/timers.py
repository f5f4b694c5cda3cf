"""TAT timers: which deadline is next, and what reminders, breaches and expiry do."""

from __future__ import annotations

from datetime import datetime

from approvals import clocks
from approvals.core import RequestCore
from schemas.approval import (
    SYSTEM_ACTOR,
    Deadline,
    Decision,
    EventKind,
    LevelState,
    LevelStatus,
    RequestStatus,
)


class TatTimers(RequestCore):
    """Deadlines of the current level and of the whole request."""

    def _open_deadlines(self) -> list[tuple[Deadline, LevelState | None]]:
        if not self.state.is_open or self.state.paused:
            return []
        found: list[tuple[Deadline, LevelState | None]] = []
        level = self.state.active_level()
        if level is not None:
            found += [(d, level) for d in level.deadlines if d.fired_at is None and d.due]
        deadline = self.state.request_deadline
        if deadline is not None and deadline.fired_at is None and deadline.due:
            found.append((deadline, None))
        return found

    def next_due(self) -> datetime | None:
        """The earliest deadline still to fire, or None when nothing is ticking."""
        dues = [d.due for d, _ in self._open_deadlines() if d.due is not None]
        return min(dues, default=None)

    def next_due_label(self) -> str:
        """A short name for the next timer, shown in the Temporal UI."""
        pending = [(d.due, d, lv) for d, lv in self._open_deadlines() if d.due is not None]
        if not pending:
            return "no deadline"
        _, deadline, level = min(pending, key=lambda item: item[0])
        where = level.level_id if level else "request"
        return f"{where} {deadline.kind} at {deadline.threshold:.0%}"

    def fire_due(self, now: datetime, until: datetime | None = None) -> None:
        """Act at `now` on every deadline due by `until` (default `now`), in the order they
        fell due."""
        limit = now if until is None else until
        while self.state.is_open:
            due = [(d, lv) for d, lv in self._open_deadlines() if d.due and d.due <= limit]
            if not due:
                return
            deadline, level = min(due, key=lambda item: (item[0].due, item[0].threshold))
            deadline.fired_at = now
            if level is None:
                self._expire(deadline, now)
            else:
                assert level.clock is not None
                level.clock.fired.append(deadline.threshold)
                if deadline.kind == "reminder":
                    self._remind(level, deadline, now)
                else:
                    self._breach(level, deadline, now)
            self._reproject(now)

    def _due_detail(self, deadline: Deadline) -> dict[str, object]:
        assert deadline.due is not None
        return {
            "threshold": deadline.threshold,
            "due": deadline.due.isoformat(),
            "due_local": self.cal.describe(deadline.due),
        }

    def _remind(self, level: LevelState, deadline: Deadline, now: datetime) -> None:
        self._record(
            now,
            EventKind.REMINDER,
            SYSTEM_ACTOR,
            level,
            detail=self._due_detail(deadline),
            recipients=level.pending_approvers(),
        )

    def _breach(self, level: LevelState, deadline: Deadline, now: datetime) -> None:
        rule = level.escalation
        self._record(
            now,
            EventKind.BREACHED,
            SYSTEM_ACTOR,
            level,
            reason=f"TAT of {level.tat.describe()} breached",
            detail=self._due_detail(deadline) | {"action": rule.action},
            recipients=level.pending_approvers() + rule.notify,
        )
        if rule.action == "reassign" and not level.escalated:
            self._escalate_to(level, rule.reassign_to, now)
        elif rule.action == "auto_approve":
            level.decisions.append(
                Decision(actor=SYSTEM_ACTOR, kind="approve", at=now, round=level.round)
            )
            self._finish_level(level, LevelStatus.APPROVED, now)
            self._record(
                now,
                EventKind.LEVEL_APPROVED,
                SYSTEM_ACTOR,
                level,
                reason="auto-approved after the TAT breach",
                recipients=[self.state.requester],
            )
            self._advance(now)
        elif rule.action == "auto_reject":
            self._finish_level(level, LevelStatus.REJECTED, now)
            reason = f"auto-rejected: level {level.name!r} breached its TAT"
            self._close(now, RequestStatus.REJECTED, SYSTEM_ACTOR, reason)

    def _escalate_to(self, level: LevelState, targets: list[str], now: datetime) -> None:
        """Hand the level to the escalation approvers, any one deciding, on a fresh TAT."""
        previous = list(level.approvers)
        level.escalated = True
        level.round += 1
        level.approvers = [t for t in dict.fromkeys(targets) if t != self.state.requester]
        level.mode, level.required_approvals = "any", None
        budget = self.cal.tat_seconds(now, level.tat, self.state.priority)
        level.clock = clocks.start_clock(budget, now)
        level.deadlines = []
        self._record(
            now,
            EventKind.ESCALATED,
            SYSTEM_ACTOR,
            level,
            reason="reassigned to the escalation approvers with a fresh TAT",
            detail={"from": previous, "to": list(level.approvers)},
            recipients=level.approvers,
        )

    def _expire(self, deadline: Deadline, now: datetime) -> None:
        self._record(now, EventKind.EXPIRED, SYSTEM_ACTOR, detail=self._due_detail(deadline))
        self._close(now, RequestStatus.EXPIRED, SYSTEM_ACTOR, "the request's overall TAT ran out")
