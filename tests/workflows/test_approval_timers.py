"""TAT timers on the time-skipping server: reminders, breach and escalation at exact instants."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from schemas.approval import (
    ApprovalInput,
    ApproveInput,
    AuditEvent,
    CancelInput,
    EventKind,
    PauseInput,
    RejectInput,
    RequestState,
    RequestStatus,
    ResumeInput,
    SlaState,
    StateQuery,
)
from schemas.template import Escalation
from tests.conftest import WorkerFactory
from tests.factories import approval_input, level, next_weekday, office_calendar
from workflows.approval import ApprovalWorkflow

BERLIN = ZoneInfo("Europe/Berlin")


def _friday_before_holiday_monday(after: date) -> date:
    """The first Friday after `after` that is a working day followed by a German holiday Monday."""
    de = holidays.country_holidays("DE", years=range(after.year, after.year + 3))
    friday = next_weekday(after + timedelta(days=1), 4)
    while friday in de or (friday + timedelta(days=3)) not in de:
        friday += timedelta(days=7)
    return friday


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=BERLIN).astimezone(UTC)


def _whole(instant: datetime | None) -> datetime:
    """An instant without the milliseconds that a start or resume a moment late adds."""
    assert instant is not None
    return (instant + timedelta(milliseconds=500)).replace(microsecond=0)


async def _skip_to(env: WorkflowEnvironment, instant: datetime) -> None:
    now = await env.get_current_time()
    if instant > now:
        await env.sleep(instant - now)


async def _state(handle: WorkflowHandle[ApprovalWorkflow, Any]) -> RequestState:
    return await handle.query(ApprovalWorkflow.state, StateQuery())


def _events(state: RequestState, kind: EventKind, level_id: str) -> list[AuditEvent]:
    return [e for e in state.audit if e.kind == kind and e.level_id == level_id]


def _dues(events: list[AuditEvent]) -> list[datetime]:
    return [datetime.fromisoformat(str(e.detail["due"])) for e in events]


def _assert_fired_on_time(events: list[AuditEvent]) -> None:
    for event, due in zip(events, _dues(events), strict=True):
        assert timedelta(0) <= event.at - due < timedelta(seconds=2), (event.kind, event.at, due)


async def _cancel(handle: WorkflowHandle[ApprovalWorkflow, Any]) -> None:
    """Close the request and wait for the workflow to finish while its worker still runs."""
    await handle.execute_update(
        ApprovalWorkflow.cancel, CancelInput(actor="max", reason="test over")
    )
    await handle.result()


async def _start(
    env: WorkflowEnvironment, task_queue: str, inp: ApprovalInput
) -> WorkflowHandle[ApprovalWorkflow, Any]:
    return await env.client.start_workflow(
        ApprovalWorkflow.run, inp, id=f"req-{uuid.uuid4()}", task_queue=task_queue
    )


async def test_friday_evening_before_a_holiday_three_levels(
    time_skipping_env: WorkflowEnvironment, approval_worker: WorkerFactory, task_queue: str
) -> None:
    env = time_skipping_env
    friday = _friday_before_holiday_monday((await env.get_current_time()).date())
    tue, wed, thu, fri2 = (friday + timedelta(days=d) for d in (4, 5, 6, 7))
    inp = approval_input(
        [
            level("Manager", ["mia"], escalation=Escalation(action="reassign", reassign_to=["ed"])),
            level("Finance", ["fay"], escalation=Escalation(action="auto_approve")),
            level("CFO", ["cy"], escalation=Escalation(action="notify", notify=["ops"])),
        ],
        calendar=office_calendar(first_year=friday.year),
    )
    await _skip_to(env, _at(friday, 17, 30))
    async with approval_worker(env.client):
        handle = await _start(env, task_queue, inp)
        # Level 1 counts from Tuesday 09:00: the evening, the weekend and the holiday never count.
        await _skip_to(env, _at(wed, 17) + timedelta(seconds=5))
        state = await _state(handle)
        reminders = _events(state, EventKind.REMINDER, "L1")
        assert _dues(reminders) == [_at(tue, 17), _at(wed, 13)]
        _assert_fired_on_time(reminders)
        (breach,) = _events(state, EventKind.BREACHED, "L1")
        assert _dues([breach]) == [_at(wed, 17)]
        _assert_fired_on_time([breach])
        (escalation,) = _events(state, EventKind.ESCALATED, "L1")
        assert escalation.detail["to"] == ["ed"]
        assert state.levels[0].approvers == ["ed"]
        # The escalation approver gets a fresh 16 hours, counted from Thursday's opening.
        assert [d.due for d in state.levels[0].deadlines] == [
            _at(thu, 17),
            _at(fri2, 13),
            _at(fri2, 17),
        ]
        assert state.sla_state == SlaState.ON_TRACK

        await _skip_to(env, _at(thu, 10))
        await handle.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="ed"))
        # Level 2 auto-approves at its breach: 16 business hours after Thursday 10:00.
        mon2 = thu + timedelta(days=4)
        await _skip_to(env, _at(mon2, 10) + timedelta(seconds=5))
        state = await _state(handle)
        l2_reminders = _events(state, EventKind.REMINDER, "L2")
        assert [_whole(d) for d in _dues(l2_reminders)] == [
            _at(fri2, 10),
            _at(fri2, 14),
        ]
        _assert_fired_on_time(l2_reminders)
        assert state.levels[1].status == "APPROVED"
        assert state.levels[1].decisions[-1].actor == "system"
        assert state.current_level == 2

        # Level 3 only notifies on breach; the CFO then rejects.
        await _skip_to(env, _at(mon2 + timedelta(days=2), 10) + timedelta(seconds=5))
        state = await _state(handle)
        (breach3,) = _events(state, EventKind.BREACHED, "L3")
        assert "ops" in breach3.recipients and "cy" in breach3.recipients
        assert state.sla_state == SlaState.BREACHED
        assert state.is_open

        await handle.execute_update(
            ApprovalWorkflow.reject, RejectInput(actor="cy", reason="over budget")
        )
        result = await handle.result()
        assert result.status == RequestStatus.REJECTED
        assert result.reason == "over budget"


async def test_pause_moves_every_later_deadline_by_the_paused_business_time(
    time_skipping_env: WorkflowEnvironment, approval_worker: WorkerFactory, task_queue: str
) -> None:
    env = time_skipping_env
    now = (await env.get_current_time()).astimezone(BERLIN).date()
    de = holidays.country_holidays("DE", years=range(now.year, now.year + 3))
    monday = next_weekday(now + timedelta(days=1), 0)
    while any(monday + timedelta(days=d) in de for d in range(14)):
        monday += timedelta(days=7)
    inp = approval_input(
        [level("Manager", ["mia"], hours=20)], calendar=office_calendar(first_year=monday.year)
    )
    tue, wed, thu, fri = (monday + timedelta(days=d) for d in range(1, 5))
    await _skip_to(env, _at(monday, 8))
    async with approval_worker(env.client):
        handle = await _start(env, task_queue, inp)
        before = [d.due for d in (await _state(handle)).levels[0].deadlines]
        assert before == [_at(tue, 11), _at(tue, 16), _at(wed, 13)]
        await _skip_to(env, _at(monday, 13))
        paused = await handle.execute_update(
            ApprovalWorkflow.pause, PauseInput(actor="max", reason="waiting for a quote")
        )
        assert paused.request.sla_state == SlaState.PAUSED
        assert all(d.due is None for d in paused.request.levels[0].deadlines)
        # Two business days later (Wednesday 13:00) the clock restarts.
        await _skip_to(env, _at(wed, 13))
        resumed = await handle.execute_update(
            ApprovalWorkflow.resume, ResumeInput(actor="max", reason="quote arrived")
        )
        (event,) = [e for e in resumed.events if e.kind == EventKind.RESUMED]
        assert event.detail["paused_business_hours"] == 16.0
        after = [_whole(d.due) for d in resumed.request.levels[0].deadlines]
        # Every deadline moved by exactly two business days.
        assert after == [_at(thu, 11), _at(thu, 16), _at(fri, 13)]
        assert resumed.request.sla_state == SlaState.ON_TRACK
        # Nothing fired while paused, and the first reminder fires at its moved instant.
        await _skip_to(env, after[0] + timedelta(seconds=5))
        state = await _state(handle)
        reminders = _events(state, EventKind.REMINDER, "L1")
        assert len(reminders) == 1
        _assert_fired_on_time(reminders)
        await _cancel(handle)


@pytest.mark.parametrize("priority, breach_hour", [("STANDARD", 17), ("EXPRESS", 13)])
async def test_express_priority_halves_the_tat(
    time_skipping_env: WorkflowEnvironment,
    approval_worker: WorkerFactory,
    task_queue: str,
    priority: str,
    breach_hour: int,
) -> None:
    env = time_skipping_env
    now = (await env.get_current_time()).astimezone(BERLIN).date()
    de = holidays.country_holidays("DE", years=range(now.year, now.year + 3))
    monday = next_weekday(now + timedelta(days=1), 0)
    while any(monday + timedelta(days=d) in de for d in range(3)):
        monday += timedelta(days=7)
    inp = approval_input(
        [level("Manager", ["mia"], hours=8)],
        calendar=office_calendar(first_year=monday.year),
        priority=priority,
    )
    await _skip_to(env, _at(monday, 8))
    async with approval_worker(env.client):
        handle = await _start(env, task_queue, inp)
        state = await _state(handle)
        assert state.levels[0].deadlines[-1].due == _at(monday, breach_hour)
        await _cancel(handle)
