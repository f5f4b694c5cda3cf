"""Pausable business-time clocks and the deadlines they project."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from bizcal.calendar import BusinessCalendar
from schemas.approval import Clock, Deadline


def start_clock(budget_seconds: float, now: datetime) -> Clock:
    """A running clock with the whole budget ahead."""
    return Clock(budget_seconds=budget_seconds, running_since=now)


def elapsed(cal: BusinessCalendar, clock: Clock, now: datetime) -> float:
    """Business seconds consumed so far, the running stretch included."""
    if clock.running_since is None:
        return clock.consumed_seconds
    return clock.consumed_seconds + cal.business_seconds_between(clock.running_since, now)


def pause(cal: BusinessCalendar, clock: Clock, now: datetime) -> None:
    """Stop the clock, banking the business time of the running stretch."""
    clock.consumed_seconds = elapsed(cal, clock, now)
    clock.running_since = None


def resume(clock: Clock, now: datetime) -> None:
    """Restart a paused clock; every pending threshold moves by the paused time."""
    if clock.running_since is None:
        clock.running_since = now


def due_at(cal: BusinessCalendar, clock: Clock, threshold: float) -> datetime | None:
    """When the clock reaches `threshold` of its budget, or None while paused."""
    if clock.running_since is None:
        return None
    ahead = max(threshold * clock.budget_seconds - clock.consumed_seconds, 0.0)
    return cal.add_business_seconds(clock.running_since, ahead)


DeadlineKind = Literal["reminder", "breach", "expiry"]


def project(
    cal: BusinessCalendar,
    clock: Clock,
    thresholds: list[tuple[float, DeadlineKind]],
    previous: list[Deadline],
) -> list[Deadline]:
    """Deadlines for each threshold, keeping when already-fired ones fired."""
    fired = {d.threshold: d for d in previous if d.fired_at is not None}
    return [
        fired[t]
        if t in fired and t in clock.fired
        else Deadline(threshold=t, kind=kind, due=due_at(cal, clock, t))
        for t, kind in thresholds
    ]
