"""Refused input to business-time arithmetic, and invalid calendars and TATs."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.calendar import CalendarSnapshot, OrgCalendar
from schemas.template import Tat
from tests.bizcal.calendars import BERLIN_OFFICE, WORK_DAYS, berlin

# --- refused input -----------------------------------------------------------------------------

NAIVE = datetime(2026, 11, 23, 13)
AWARE = berlin(2026, 11, 23, 13)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.add_business_seconds(NAIVE, 60), id="add_business_seconds"),
        pytest.param(lambda c: c.add_business_hours(NAIVE, 1), id="add_business_hours"),
        pytest.param(lambda c: c.add_business_days(NAIVE, 1), id="add_business_days"),
        pytest.param(lambda c: c.next_opening(NAIVE), id="next_opening"),
        pytest.param(lambda c: c.business_seconds_between(NAIVE, AWARE), id="between-start"),
        pytest.param(lambda c: c.business_seconds_between(AWARE, NAIVE), id="between-end"),
        pytest.param(lambda c: c.tat_seconds(NAIVE, Tat(hours=1), "STANDARD"), id="tat-hours"),
        pytest.param(lambda c: c.tat_seconds(NAIVE, Tat(days=1), "STANDARD"), id="tat-days"),
        pytest.param(lambda c: c.describe(NAIVE), id="describe"),
        pytest.param(lambda c: c.local_date(NAIVE), id="local_date"),
    ],
)
def test_naive_datetimes_are_refused(call: Any) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(BERLIN_OFFICE)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.add_business_seconds(AWARE, -1), id="seconds"),
        pytest.param(lambda c: c.add_business_seconds(AWARE, -1e-9), id="tiny-seconds"),
        pytest.param(lambda c: c.add_business_hours(AWARE, -0.5), id="hours"),
        pytest.param(lambda c: c.add_business_days(AWARE, -1), id="days"),
    ],
)
def test_negative_amounts_are_refused(call: Any) -> None:
    with pytest.raises(ValueError, match="negative"):
        call(BERLIN_OFFICE)


def test_zero_amount_is_the_next_opening() -> None:
    assert BERLIN_OFFICE.add_business_seconds(berlin(2026, 11, 21, 10), 0) == berlin(
        2026, 11, 23, 9
    )


# --- calendar validation -----------------------------------------------------------------------

INVALID_CALENDARS = [
    pytest.param({"week": {}}, "the week has no working hours at all", id="empty-week"),
    pytest.param(
        {"week": {"mon": [], "sat": []}},
        "the week has no working hours at all",
        id="only-empty-days",
    ),
    pytest.param(
        {
            "week": {
                "mon": [
                    {"opens": "09:00", "closes": "13:00"},
                    {"opens": "12:00", "closes": "17:00"},
                ]
            }
        },
        "opening hours overlap on mon",
        id="overlapping-stretches",
    ),
    pytest.param(
        {
            "week": {
                "tue": [
                    {"opens": "13:00", "closes": "18:00"},
                    {"opens": "08:00", "closes": "14:00"},
                ]
            }
        },
        "opening hours overlap on tue",
        id="overlapping-stretches-given-out-of-order",
    ),
    pytest.param(
        {"week": {"mon": [{"opens": "17:00", "closes": "09:00"}]}},
        "opening hours 17:00-09:00 must open before closing",
        id="opens-after-closes",
    ),
    pytest.param(
        {"week": {"mon": [{"opens": "09:00", "closes": "09:00"}]}},
        "opening hours 09:00-09:00 must open before closing",
        id="opens-equals-closes",
    ),
    pytest.param(
        {"week": {"mon": [{"opens": "24:00", "closes": "24:00"}]}},
        "must open before closing",
        id="opens-at-24:00",
    ),
    pytest.param(
        {"week": {"mon": [{"opens": "09:00", "closes": "24:30"}]}},
        "'24:30' is past 24:00",
        id="past-24:00",
    ),
    pytest.param(
        {"week": {"mon": [{"opens": "9:00", "closes": "17:00"}]}},
        "'9:00' is not a time of day as HH:MM",
        id="not-HH:MM",
    ),
    pytest.param(
        {"week": {"mon": [{"opens": "09:60", "closes": "17:00"}]}},
        "not a time of day",
        id="minute-60",
    ),
    pytest.param(
        {"week": {"someday": [{"opens": "09:00", "closes": "17:00"}]}},
        "someday",
        id="unknown-weekday",
    ),
    pytest.param({"timezone": "Mars/Olympus_Mons"}, "unknown timezone", id="unknown-timezone"),
    pytest.param({"timezone": "../etc/passwd"}, "unknown timezone", id="timezone-path"),
    pytest.param({"timezone": ""}, "unknown timezone", id="empty-timezone"),
    pytest.param(
        {"priority_factors": {"EXPRESS": 0}},
        "priority factor for EXPRESS must be positive",
        id="zero-priority-factor",
    ),
    pytest.param(
        {"priority_factors": {"EXPRESS": -0.5}},
        "priority factor for EXPRESS must be positive",
        id="negative-priority-factor",
    ),
]

# OrgCalendar only: the holiday country is resolved when the calendar is snapshotted.
INVALID_ORG_CALENDARS = [
    pytest.param(
        {"holiday_country": "XX"},
        "no public holiday data for country 'XX'",
        id="unknown-holiday-country",
    ),
    pytest.param(
        {"holiday_country": "DE", "holiday_subdivision": "XX"},
        "country 'DE' has no subdivision 'XX'",
        id="unknown-holiday-subdivision",
    ),
]


@pytest.mark.parametrize(("fields", "message"), INVALID_CALENDARS + INVALID_ORG_CALENDARS)
def test_invalid_org_calendars_are_refused(fields: dict[str, Any], message: str) -> None:
    try:
        OrgCalendar.model_validate(fields)
    except ValidationError as exc:
        assert message in str(exc)
    else:
        raise AssertionError(f"OrgCalendar accepted {fields}")


@pytest.mark.parametrize(("fields", "message"), INVALID_CALENDARS)
def test_invalid_snapshots_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        CalendarSnapshot.model_validate({**fields, "covers_years": (2026, 2028)})


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="defaults-office-week-utc"),
        pytest.param({"week": {"sun": [{"opens": "00:00", "closes": "24:00"}]}}, id="24:00"),
        pytest.param(
            {
                "week": {
                    "mon": [
                        {"opens": "13:00", "closes": "17:00"},
                        {"opens": "09:00", "closes": "13:00"},
                    ]
                }
            },
            id="touching-stretches-out-of-order",
        ),
        pytest.param({"timezone": "America/New_York", "holiday_country": "US"}, id="us"),
    ],
)
def test_valid_org_calendars(fields: dict[str, Any]) -> None:
    calendar = OrgCalendar.model_validate(fields)
    for stretches in calendar.week.values():
        opens = [s.opens for s in stretches]
        assert opens == sorted(opens)


def test_default_calendar_is_a_utc_office_week() -> None:
    calendar = OrgCalendar()
    assert calendar.timezone == "UTC"
    assert sorted(calendar.week) == sorted(WORK_DAYS)
    assert calendar.priority_factors == {"STANDARD": 1.0, "EXPRESS": 0.5}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({}, "exactly one", id="neither"),
        pytest.param({"hours": 8, "days": 1}, "exactly one", id="both"),
        pytest.param({"hours": 0}, "greater than 0", id="zero-hours"),
        pytest.param({"hours": -1}, "greater than 0", id="negative-hours"),
        pytest.param({"days": 0}, "greater than 0", id="zero-days"),
        pytest.param({"days": 1.5}, "integer", id="fractional-days"),
    ],
)
def test_invalid_tats_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Tat.model_validate(fields)
