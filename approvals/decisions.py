"""Decisions on a request: approve, reject, comment, withdraw, and the same by signal."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from approvals.core import Refused, RequestCore
from schemas.approval import (
    SYSTEM_ACTOR,
    ApproveInput,
    CommentInput,
    Decision,
    DecisionSignal,
    EventKind,
    LevelState,
    LevelStatus,
    RejectInput,
    RequestStatus,
    WithdrawInput,
)


class DecisionRules(RequestCore):
    """Who may decide what, and what a decision does."""

    def check_approve(self, inp: ApproveInput) -> None:
        """Refuse an approval that is not allowed now."""
        self._current_for(inp.actor, inp.level_id)

    def _decide(
        self,
        actor: str,
        level_id: str | None,
        kind: Literal["approve", "reject"],
        text: str | None,
        via: str,
        now: datetime,
    ) -> LevelState:
        level = self._current_for(actor, level_id)
        level.decisions.append(
            Decision(actor=actor, kind=kind, at=now, comment=text, round=level.round, via=via)
        )
        event = EventKind.APPROVED if kind == "approve" else EventKind.REJECTED
        # The requester hears of an approval now; of a rejection through the completion.
        told = [self.state.requester] if kind == "approve" else []
        self._record(now, event, actor, level, reason=text, detail={"via": via}, recipients=told)
        return level

    def approve(self, inp: ApproveInput, now: datetime) -> None:
        """Record an approval; complete the level when enough approvals are in."""
        level = self._decide(inp.actor, inp.level_id, "approve", inp.comment, inp.via, now)
        if len(level.approvals()) >= level.needed():
            no_longer_needed = level.pending_approvers()
            self._finish_level(level, LevelStatus.APPROVED, now)
            self._record(
                now, EventKind.LEVEL_APPROVED, SYSTEM_ACTOR, level, recipients=no_longer_needed
            )
            self._advance(now)
            self._reproject(now)

    def check_reject(self, inp: RejectInput) -> None:
        """Refuse a rejection that is not allowed now."""
        self._current_for(inp.actor, inp.level_id)

    def reject(self, inp: RejectInput, now: datetime) -> None:
        """Record a rejection: one rejection rejects the request, in every mode."""
        level = self._decide(inp.actor, inp.level_id, "reject", inp.reason, inp.via, now)
        no_longer_needed = level.pending_approvers()
        self._finish_level(level, LevelStatus.REJECTED, now)
        self._close(now, RequestStatus.REJECTED, inp.actor, inp.reason, also_tell=no_longer_needed)

    def check_comment(self, inp: CommentInput) -> None:
        """Comments are taken while the request is open."""
        self._require_open()

    def comment(self, inp: CommentInput, now: datetime) -> None:
        """Record a comment and tell the requester and the current approvers."""
        self.check_comment(inp)
        level = self.state.active_level()
        told = [self.state.requester] + (level.approvers if level else [])
        self._record(
            now,
            EventKind.COMMENTED,
            inp.actor,
            level,
            reason=inp.text,
            detail={"via": inp.via},
            recipients=told,
        )

    def check_withdraw(self, inp: WithdrawInput) -> None:
        """Only the requester withdraws, and only while open."""
        self._require_open()
        if inp.actor != self.state.requester:
            raise Refused("only the requester can withdraw the request", "forbidden")

    def withdraw(self, inp: WithdrawInput, now: datetime) -> None:
        """End the request as WITHDRAWN."""
        self.check_withdraw(inp)
        self._record(now, EventKind.WITHDRAWN, inp.actor, reason=inp.reason)
        self._close(now, RequestStatus.WITHDRAWN, inp.actor, inp.reason or "withdrawn")

    def signal(self, sig: DecisionSignal, now: datetime) -> None:
        """Apply a fire-and-forget decision; a refused one is audited as ignored."""
        try:
            if sig.kind == "approve":
                self.approve(
                    ApproveInput(
                        actor=sig.actor, comment=sig.text, level_id=sig.level_id, via=sig.via
                    ),
                    now,
                )
            elif sig.kind == "reject":
                if not sig.text:
                    raise Refused("a rejection needs a reason")
                self.reject(
                    RejectInput(
                        actor=sig.actor, reason=sig.text, level_id=sig.level_id, via=sig.via
                    ),
                    now,
                )
            else:
                if not sig.text:
                    raise Refused("a comment needs text")
                self.comment(CommentInput(actor=sig.actor, text=sig.text, via=sig.via), now)
        except Refused as refusal:
            self._record(
                now,
                EventKind.DECISION_IGNORED,
                sig.actor,
                self.state.active_level(),
                reason=refusal.reason,
                detail={"kind": sig.kind, "via": sig.via},
                recipients=[sig.actor],
            )
