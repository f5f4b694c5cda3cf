"""Freeze an org's calendar into a snapshot: public holidays become explicit dates."""

from __future__ import annotations

import holidays

from schemas.calendar import CalendarSnapshot, OrgCalendar


def snapshot_calendar(calendar: OrgCalendar, first_year: int, years_ahead: int) -> CalendarSnapshot:
    """The calendar a request runs on from `first_year`, holidays resolved to dates."""
    last_year = first_year + years_ahead
    closed = set(calendar.own_closures)
    if calendar.holiday_country:
        public = holidays.country_holidays(
            calendar.holiday_country,
            subdiv=calendar.holiday_subdivision,
            years=range(first_year, last_year + 1),
        )
        closed.update(public.keys())
    return CalendarSnapshot(
        timezone=calendar.timezone,
        week=calendar.week,
        priority_factors=calendar.priority_factors,
        closed_dates=sorted(closed),
        covers_years=(first_year, last_year),
    )
