"""Builders for workflow inputs used across tests."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from bizcal.holidays import snapshot_calendar
from schemas.approval import ApprovalInput
from schemas.calendar import WEEKDAYS, CalendarSnapshot, OpeningHours, OrgCalendar, Weekday
from schemas.template import (
    ApprovalMode,
    ApproverSelector,
    Escalation,
    LevelTemplate,
    Tat,
    TemplateSnapshot,
)


def office_calendar(
    tz: str = "Europe/Berlin", country: str | None = "DE", first_year: int = 2026
) -> CalendarSnapshot:
    """Mon-Fri 09:00-17:00 in Berlin with German public holidays."""
    return snapshot_calendar(
        OrgCalendar(timezone=tz, holiday_country=country), first_year=first_year, years_ahead=2
    )


def always_open_calendar() -> CalendarSnapshot:
    """Every hour of every day is business time: for tests on the real dev server clock."""
    day = [OpeningHours(opens="00:00", closes="24:00")]
    week: dict[Weekday, list[OpeningHours]] = {d: list(day) for d in WEEKDAYS}
    return CalendarSnapshot(timezone="UTC", week=week, covers_years=(2026, 2028))


def level(
    name: str,
    users: list[str],
    *,
    hours: float = 16,
    mode: ApprovalMode = "any",
    required: int | None = None,
    escalation: Escalation | None = None,
    role: str | None = None,
    **extra: Any,
) -> LevelTemplate:
    """One level with users, a TAT in hours and an optional escalation."""
    return LevelTemplate(
        name=name,
        approvers=ApproverSelector(users=users, role=role),
        mode=mode,
        required_approvals=required,
        tat=Tat(hours=hours),
        escalation=escalation or Escalation(),
        **extra,
    )


def approval_input(
    levels: list[LevelTemplate],
    *,
    calendar: CalendarSnapshot | None = None,
    requester: str = "rita",
    amount: str | None = "1200.00",
    priority: str = "STANDARD",
    overall_tat: Tat | None = None,
    org_id: str | None = None,
) -> ApprovalInput:
    """A request input on the purchase template made of these levels.

    Each input is in an org of its own unless one is given: the integration database is shared
    with the API tests, whose webhooks and people must not receive these requests' events.
    """
    return ApprovalInput(
        org_id=org_id or f"org-{uuid.uuid4().hex[:10]}",
        template=TemplateSnapshot(
            key="purchase", name="Purchase", levels=levels, overall_tat=overall_tat
        ),
        calendar=calendar or office_calendar(),
        requester=requester,
        title="Laptop for the new hire",
        amount=Decimal(amount) if amount else None,
        currency="EUR" if amount else None,
        priority=priority,
    )


def next_weekday(start: date, weekday: int) -> date:
    """The first date on or after `start` that falls on `weekday` (0 = Monday)."""
    return date.fromordinal(start.toordinal() + (weekday - start.weekday()) % 7)
