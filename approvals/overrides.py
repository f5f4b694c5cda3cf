"""Operator overrides: skip, insert, reassign, pause, resume, cancel (actor and reason always)."""

from __future__ import annotations

from datetime import datetime

from approvals import clocks
from approvals.core import Refused, RequestCore, unique_in_order
from schemas.approval import (
    CancelInput,
    Clock,
    EventKind,
    InsertLevelInput,
    LevelState,
    LevelStatus,
    PauseInput,
    ReassignInput,
    RequestStatus,
    ResumeInput,
    SkipLevelInput,
)
from schemas.template import LevelTemplate


class OverrideRules(RequestCore):
    """What each override checks and changes."""

    def check_skip(self, inp: SkipLevelInput) -> LevelState:
        """The level to skip: the current one, or a named level not yet decided."""
        self._require_open()
        if inp.level_id is None:
            level = self.state.active_level()
            assert level is not None
            return level
        level = self.state.find_level(inp.level_id)
        if level is None:
            raise Refused(f"the request has no level {inp.level_id}")
        if level.status not in (LevelStatus.PENDING, LevelStatus.ACTIVE):
            raise Refused(f"level {inp.level_id} is already {level.status.value}")
        return level

    def skip(self, inp: SkipLevelInput, now: datetime) -> None:
        """Skip a level; skipping the current one moves the request on."""
        level = self.check_skip(inp)
        was_active = level.status == LevelStatus.ACTIVE
        told = level.pending_approvers() + [self.state.requester]
        self._finish_level(level, LevelStatus.SKIPPED, now)
        self._record(
            now, EventKind.LEVEL_SKIPPED, inp.actor, level, reason=inp.reason, recipients=told
        )
        if was_active:
            self._advance(now)
        self._reproject(now)

    def check_insert(self, inp: InsertLevelInput) -> None:
        """Insert only at or after the current level."""
        self._require_open()
        current = self.state.current_level
        assert current is not None
        if not current <= inp.position <= len(self.state.levels):
            raise Refused(
                f"position {inp.position} is outside {current}..{len(self.state.levels)} "
                "(levels already decided cannot change)"
            )
        if self.state.requester in inp.approvers:
            raise Refused("the requester cannot approve their own request")

    def insert_level(self, inp: InsertLevelInput, now: datetime) -> None:
        """Insert a level; at the current position it takes over and the old one waits."""
        self.check_insert(inp)
        template = LevelTemplate(
            name=inp.name,
            approvers={"users": inp.approvers},
            mode=inp.mode,
            required_approvals=inp.required_approvals,
            tat=inp.tat,
        )
        level = self._new_level(
            name=inp.name,
            approvers=unique_in_order(inp.approvers),
            mode=inp.mode,
            required=inp.required_approvals,
            template=template,
            inserted_by=inp.actor,
        )
        self.state.levels.insert(inp.position, level)
        self._record(
            now,
            EventKind.LEVEL_INSERTED,
            inp.actor,
            level,
            reason=inp.reason,
            detail={"position": inp.position, "approvers": list(level.approvers)},
            recipients=[self.state.requester],
        )
        current = self.state.current_level
        assert current is not None
        if inp.position == current:
            displaced = self.state.levels[current + 1]
            if displaced.clock is not None:
                clocks.pause(self.cal, displaced.clock, now)
            displaced.status = LevelStatus.PENDING
            displaced.clock, displaced.deadlines = None, []
            self._activate(current, now)
        self._reproject(now)

    def check_reassign(self, inp: ReassignInput) -> LevelState:
        """Only a pending approval moves, and never to someone already on the level."""
        self._require_open()
        level = self.state.active_level()
        assert level is not None
        if inp.from_user not in level.pending_approvers():
            raise Refused(f"{inp.from_user} has no pending approval on level {level.level_id}")
        if inp.to_user in level.approvers:
            raise Refused(f"{inp.to_user} is already an approver of level {level.level_id}")
        if inp.to_user == self.state.requester:
            raise Refused("the requester cannot approve their own request")
        return level

    def reassign(self, inp: ReassignInput, now: datetime) -> None:
        """Hand one pending approval to someone else; the level's TAT keeps running."""
        level = self.check_reassign(inp)
        level.approvers = [inp.to_user if a == inp.from_user else a for a in level.approvers]
        self._record(
            now,
            EventKind.REASSIGNED,
            inp.actor,
            level,
            reason=inp.reason,
            detail={"from": inp.from_user, "to": inp.to_user},
            recipients=[inp.to_user, inp.from_user],
        )

    def check_pause(self, inp: PauseInput) -> None:
        """Pause an open, running request."""
        self._require_open()
        if self.state.paused:
            raise Refused("the request is already paused")

    def pause(self, inp: PauseInput, now: datetime) -> None:
        """Stop every clock of the request."""
        self.check_pause(inp)
        self.state.paused, self.state.paused_at, self.state.pause_reason = True, now, inp.reason
        for clock in self._running_clocks():
            clocks.pause(self.cal, clock, now)
        self._reproject(now)
        self._record(
            now, EventKind.PAUSED, inp.actor, reason=inp.reason, recipients=self._participants()
        )

    def check_resume(self, inp: ResumeInput) -> None:
        """Resume only a paused request."""
        self._require_open()
        if not self.state.paused:
            raise Refused("the request is not paused")

    def resume(self, inp: ResumeInput, now: datetime) -> None:
        """Restart the clocks; pending deadlines move by the business time spent paused."""
        self.check_resume(inp)
        assert self.state.paused_at is not None
        paused_for = self.cal.business_seconds_between(self.state.paused_at, now)
        self.state.paused, self.state.paused_at, self.state.pause_reason = False, None, None
        for clock in self._running_clocks():
            clocks.resume(clock, now)
        self._reproject(now)
        self._record(
            now,
            EventKind.RESUMED,
            inp.actor,
            reason=inp.reason,
            detail={"paused_business_hours": round(paused_for / 3600, 4)},
            recipients=self._participants(),
        )

    def check_cancel(self, inp: CancelInput) -> None:
        """Cancel only an open request."""
        self._require_open()

    def cancel(self, inp: CancelInput, now: datetime) -> None:
        """End the request as CANCELLED."""
        self.check_cancel(inp)
        self._record(now, EventKind.CANCELLED, inp.actor, reason=inp.reason)
        self._close(now, RequestStatus.CANCELLED, inp.actor, inp.reason)

    def _running_clocks(self) -> list[Clock]:
        found = [self.state.request_clock]
        level = self.state.active_level()
        if level is not None:
            found.append(level.clock)
        return [c for c in found if c is not None]

    def _participants(self) -> list[str]:
        level = self.state.active_level()
        return [self.state.requester] + (level.pending_approvers() if level else [])
