"""The pure state machine: rules that need no server to check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from approvals.core import Refused
from approvals.machine import RequestMachine
from schemas.approval import (
    ApproveInput,
    EventKind,
    InsertLevelInput,
    LevelStatus,
    PauseInput,
    RequestStatus,
    ResumeInput,
)
from schemas.template import Escalation, RoutingCondition, Tat
from tests.factories import always_open_calendar, approval_input, level

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _open(*levels_: object, **kwargs: object) -> RequestMachine:
    inp = approval_input(list(levels_), calendar=always_open_calendar(), **kwargs)  # type: ignore[arg-type]
    return RequestMachine.open("req-1", inp, {"finance": ["fin", "rita"]}, T0)


def test_no_matching_level_approves_at_once() -> None:
    machine = _open(level("CFO", ["cy"], when=RoutingCondition(min_amount=10_000)))
    assert machine.state.status == RequestStatus.APPROVED
    assert machine.state.outcome_reason == "no approval level applies"


def test_the_requester_is_never_their_own_approver() -> None:
    machine = _open(level("Finance", [], role="finance"))
    assert machine.state.levels[0].approvers == ["fin"]
    assert any(e.kind == EventKind.WARNING for e in machine.state.audit)


def test_a_level_that_cannot_be_satisfied_is_flagged() -> None:
    machine = _open(level("Panel", ["a", "b"], mode="n_of", required=2, role="finance"))
    assert machine.state.levels[0].approvers == ["a", "b", "fin"]
    short = _open(level("Empty", [], role="nobody-has-it"))
    (warning,) = [e for e in short.state.audit if e.kind == EventKind.WARNING]
    assert "needs 1 approvals but has 0 approvers" in (warning.reason or "")


def test_overall_tat_expires_the_request() -> None:
    machine = _open(level("Manager", ["mia"], hours=10), overall_tat=Tat(hours=2))
    due = machine.next_due()
    assert due == T0 + timedelta(hours=2)  # before the level's 50 % reminder at 5 h
    machine.fire_due(T0 + timedelta(hours=2))
    assert machine.state.status == RequestStatus.EXPIRED
    assert machine.state.levels[0].status == LevelStatus.CANCELLED
    kinds = [e.kind for e in machine.state.audit]
    assert kinds[-2:] == [EventKind.EXPIRED, EventKind.COMPLETED]
    assert EventKind.REMINDER not in kinds


def test_a_late_decision_comes_after_the_breach_it_missed() -> None:
    machine = _open(level("Manager", ["mia"], hours=1, escalation=Escalation(action="auto_reject")))
    machine.fire_due(T0 + timedelta(hours=3))
    assert machine.state.status == RequestStatus.REJECTED
    with pytest.raises(Refused, match="already REJECTED"):
        machine.check_approve(ApproveInput(actor="mia"))


def test_a_timer_fires_what_it_was_for_at_the_time_it_came() -> None:
    # A worker back after an outage: the 50 % reminder's timer fires with the 75 % reminder
    # and the breach also past; only the 50 % one fires now, each later one on its own timer.
    machine = _open(level("Manager", ["mia"], hours=4))
    first = machine.next_due()
    assert first == T0 + timedelta(hours=2)
    late = T0 + timedelta(hours=5)
    machine.fire_due(late, until=first)
    fired = [d for d in machine.state.levels[0].deadlines if d.fired_at is not None]
    assert [(d.threshold, d.fired_at) for d in fired] == [(0.5, late)]
    assert machine.next_due() == T0 + timedelta(hours=3)
    machine.fire_due(late)
    assert all(d.fired_at == late for d in machine.state.levels[0].deadlines)


def test_pausing_stops_every_clock_and_resuming_shifts_them() -> None:
    machine = _open(level("Manager", ["mia"], hours=4), overall_tat=Tat(hours=8))
    machine.pause(PauseInput(actor="max", reason="wait"), T0 + timedelta(hours=1))
    assert machine.next_due() is None
    with pytest.raises(Refused, match="already paused"):
        machine.check_pause(PauseInput(actor="max", reason="again"))
    machine.resume(ResumeInput(actor="max", reason="go"), T0 + timedelta(hours=5))
    assert [d.due for d in machine.state.levels[0].deadlines] == [
        T0 + timedelta(hours=6),
        T0 + timedelta(hours=7),
        T0 + timedelta(hours=8),
    ]
    assert machine.state.request_deadline is not None
    assert machine.state.request_deadline.due == T0 + timedelta(hours=12)


def test_inserting_at_the_current_level_keeps_earlier_approvals() -> None:
    machine = _open(level("Board", ["bo", "bea"], mode="all"))
    machine.approve(ApproveInput(actor="bo"), T0)
    machine.insert_level(
        InsertLevelInput(actor="max", reason="legal first", position=0, approvers=["lee"]),
        T0 + timedelta(minutes=1),
    )
    machine.approve(ApproveInput(actor="lee"), T0 + timedelta(minutes=2))
    assert machine.state.active_level() is not None
    assert machine.state.levels[1].pending_approvers() == ["bea"]
    machine.approve(ApproveInput(actor="bea"), T0 + timedelta(minutes=3))
    assert machine.state.status == RequestStatus.APPROVED
