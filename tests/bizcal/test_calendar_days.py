"""Next opening, working days, business days, TAT and priorities on concrete calendars."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from schemas.template import Tat
from tests.bizcal.calendars import (
    BERLIN_24_7,
    BERLIN_OFFICE,
    CALENDARS,
    NEW_YORK_OFFICE,
    berlin,
    hours,
    new_york,
    org,
    utc,
)

# --- next opening and working days -----------------------------------------------------------

NEXT_OPENING = [
    pytest.param(
        "berlin_office", berlin(2026, 11, 23, 10), berlin(2026, 11, 23, 10), id="open-now"
    ),
    pytest.param(
        "berlin_office", berlin(2026, 11, 23, 9), berlin(2026, 11, 23, 9), id="at-opening"
    ),
    pytest.param("berlin_office", berlin(2026, 11, 23, 17), berlin(2026, 11, 24, 9), id="at-close"),
    pytest.param("berlin_office", berlin(2026, 11, 21, 10), berlin(2026, 11, 23, 9), id="saturday"),
    pytest.param(
        "berlin_office", berlin(2026, 4, 2, 18), berlin(2026, 4, 7, 9), id="easter-weekend"
    ),
    pytest.param(
        "berlin_lunch", berlin(2026, 11, 23, 12), berlin(2026, 11, 23, 13), id="lunch-break"
    ),
    pytest.param(
        "berlin_own_closures",
        berlin(2026, 11, 23, 18),
        berlin(2026, 11, 25, 9),
        id="own-closure",
    ),
    pytest.param(
        "new_york_office", new_york(2026, 7, 2, 18), new_york(2026, 7, 6, 9), id="ny-july-4th"
    ),
]


@pytest.mark.parametrize(("calendar", "instant", "expected"), NEXT_OPENING)
def test_next_opening(calendar: str, instant: datetime, expected: datetime) -> None:
    assert CALENDARS[calendar].next_opening(instant) == utc(expected)


@pytest.mark.parametrize(
    ("calendar", "day", "working"),
    [
        pytest.param("berlin_office", date(2026, 11, 23), True, id="monday"),
        pytest.param("berlin_office", date(2026, 11, 21), False, id="saturday"),
        pytest.param("berlin_office", date(2026, 11, 22), False, id="sunday"),
        pytest.param("berlin_office", date(2026, 4, 3), False, id="good-friday"),
        pytest.param("berlin_office", date(2027, 3, 29), False, id="easter-monday-2027"),
        pytest.param("berlin_office", date(2026, 12, 24), True, id="dec-24"),
        pytest.param("berlin_office", date(2026, 12, 25), False, id="dec-25"),
        pytest.param("berlin_office", date(2026, 12, 26), False, id="dec-26"),
        pytest.param("berlin_own_closures", date(2026, 12, 24), False, id="own-dec-24"),
        pytest.param("berlin_24_7", date(2026, 11, 22), True, id="24x7-sunday"),
        pytest.param("new_york_office", date(2026, 7, 3), False, id="ny-july-3-observed"),
        pytest.param("california_office", date(2026, 3, 31), False, id="ca-cesar-chavez"),
        pytest.param("new_york_office", date(2026, 3, 31), True, id="ny-mar-31"),
    ],
)
def test_is_working_day(calendar: str, day: date, working: bool) -> None:
    assert CALENDARS[calendar].is_working_day(day) is working


# --- business days -----------------------------------------------------------------------------

ADD_DAYS = [
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 9),
        1,
        berlin(2026, 11, 23, 17),
        id="from-opening-1-day-ends-at-that-days-close",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 7),
        1,
        berlin(2026, 11, 23, 17),
        id="from-before-opening-1-day-ends-at-that-days-close",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 20),
        1,
        berlin(2026, 11, 24, 17),
        id="mon-20:00+1d=tue-17:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 17),
        1,
        berlin(2026, 11, 24, 17),
        id="mon-17:00-close+1d=tue-17:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 13),
        1,
        berlin(2026, 11, 24, 13),
        id="mon-13:00+1d=tue-13:00-not-24-business-hours",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 13),
        2,
        berlin(2026, 11, 25, 13),
        id="mon-13:00+2d=wed-13:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 9),
        3,
        berlin(2026, 11, 25, 17),
        id="mon-09:00+3d=wed-17:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 27, 13),
        1,
        berlin(2026, 11, 30, 13),
        id="fri-13:00+1d=mon-13:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 21, 13),
        1,
        berlin(2026, 11, 23, 17),
        id="saturday-request+1d=mon-17:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 4, 2, 13),
        1,
        berlin(2026, 4, 7, 13),
        id="maundy-thursday-13:00+1d=tue-after-easter-13:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 12, 24, 13),
        1,
        berlin(2026, 12, 28, 13),
        id="dec-24-13:00+1d=dec-28-13:00",
    ),
    pytest.param(
        "berlin_own_closures",
        berlin(2026, 11, 23, 13),
        1,
        berlin(2026, 11, 25, 13),
        id="own-closure-skipped",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 20),
        0,
        berlin(2026, 11, 24, 9),
        id="zero-days-is-the-next-opening",
    ),
    pytest.param(
        "berlin_lunch",
        berlin(2026, 11, 23, 10, 30),
        1,
        berlin(2026, 11, 24, 10, 30),
        id="lunch-10:30+1d=tue-10:30",
    ),
    pytest.param(
        "berlin_lunch",
        berlin(2026, 11, 23, 14),
        1,
        berlin(2026, 11, 24, 14),
        id="lunch-14:00+1d=tue-14:00",
    ),
    pytest.param(
        "berlin_lunch",
        berlin(2026, 11, 23, 12, 30),
        1,
        berlin(2026, 11, 24, 12),
        id="lunch-break-start-counts-from-13:00-same-share-ends-tue-12:00",
    ),
    pytest.param(
        "berlin_24_7",
        berlin(2026, 3, 29),
        1,
        berlin(2026, 3, 30),
        id="24x7-spring-forward-day-midnight-to-midnight",
    ),
    pytest.param(
        "berlin_24_7",
        berlin(2026, 10, 25),
        1,
        berlin(2026, 10, 26),
        id="24x7-fall-back-day-midnight-to-midnight",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 3, 27, 13),
        1,
        berlin(2026, 3, 30, 13),
        id="office-fri-13:00+1d-across-dst=mon-13:00",
    ),
    pytest.param(
        "new_york_office",
        new_york(2026, 11, 25, 13),
        1,
        new_york(2026, 11, 27, 13),
        id="ny-wed-before-thanksgiving+1d=fri-13:00",
    ),
    pytest.param(
        "berlin_gap_stretch",
        berlin(2026, 3, 28, 12),
        1,
        berlin(2026, 3, 29, 17),
        id="day-whose-only-early-stretch-is-in-the-dst-gap",
    ),
]


@pytest.mark.parametrize(("calendar", "start", "days", "expected"), ADD_DAYS)
def test_add_business_days(calendar: str, start: datetime, days: int, expected: datetime) -> None:
    cal = CALENDARS[calendar]
    deadline = cal.add_business_days(start, days)
    assert deadline == utc(expected), f"{cal.describe(deadline)} != {cal.describe(expected)}"


def test_day_whose_only_stretch_vanishes_in_the_dst_gap_does_not_count_as_a_working_day() -> None:
    # Sunday hours 02:30-03:00: on 29 Mar 2026 the clock jumps from 02:00 to 03:00.
    cal = org(timezone="Europe/Berlin", week={"sun": hours("02:30-03:00")})
    assert cal.stretches(date(2026, 3, 29)) == []
    saturday = berlin(2026, 3, 28, 12)
    assert cal.next_opening(saturday) == utc(berlin(2026, 4, 5, 2, 30))
    assert cal.add_business_days(saturday, 1) == utc(berlin(2026, 4, 5, 3))
    assert cal.add_business_seconds(saturday, 60) == utc(berlin(2026, 4, 5, 2, 31))


# --- TAT and priorities ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tat", "priority", "expected_hours", "expected_deadline"),
    [
        pytest.param(Tat(hours=16), "STANDARD", 16, berlin(2026, 11, 25, 13), id="16h-standard"),
        pytest.param(
            Tat(hours=16), "EXPRESS", 8, berlin(2026, 11, 24, 13), id="16h-express-halved"
        ),
        pytest.param(Tat(days=1), "STANDARD", 8, berlin(2026, 11, 24, 13), id="1-day-standard"),
        pytest.param(
            Tat(days=2), "EXPRESS", 8, berlin(2026, 11, 24, 13), id="2-days-express-halved"
        ),
        pytest.param(Tat(days=1), "EXPRESS", 4, berlin(2026, 11, 23, 17), id="1-day-express-is-4h"),
    ],
)
def test_tat_seconds_from_monday_13_00(
    tat: Tat, priority: str, expected_hours: float, expected_deadline: datetime
) -> None:
    start = berlin(2026, 11, 23, 13)
    budget = BERLIN_OFFICE.tat_seconds(start, tat, priority)
    assert budget == pytest.approx(expected_hours * 3600)
    assert BERLIN_OFFICE.add_business_seconds(start, budget) == expected_deadline


@pytest.mark.parametrize(
    ("start", "expected_hours"),
    [
        pytest.param(berlin(2026, 3, 29), 23, id="spring-forward-day-23h"),
        pytest.param(berlin(2026, 10, 25), 25, id="fall-back-day-25h"),
        pytest.param(berlin(2026, 11, 22), 24, id="normal-day-24h"),
    ],
)
def test_one_day_tat_on_24_7_calendar_is_the_real_length_of_the_day(
    start: datetime, expected_hours: float
) -> None:
    assert BERLIN_24_7.tat_seconds(start, Tat(days=1), "STANDARD") == expected_hours * 3600


def test_priority_factors_default() -> None:
    assert BERLIN_OFFICE.priority_factor("STANDARD") == 1.0
    assert BERLIN_OFFICE.priority_factor("EXPRESS") == 0.5


def test_priority_factors_configurable() -> None:
    cal = org(priority_factors={"EXPRESS": 0.25, "URGENT": 0.1})
    assert cal.priority_factor("EXPRESS") == 0.25
    assert cal.priority_factor("URGENT") == 0.1
    assert cal.priority_factor("STANDARD") == 1.0  # always there
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert cal.tat_seconds(start, Tat(hours=8), "EXPRESS") == 2 * 3600


def test_unknown_priority_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown priority 'VIP' \(known: EXPRESS, STANDARD\)"):
        BERLIN_OFFICE.tat_seconds(berlin(2026, 11, 23, 9), Tat(hours=1), "VIP")
    with pytest.raises(ValueError, match="unknown priority"):
        BERLIN_OFFICE.priority_factor("express")


def test_describe_uses_the_org_timezone() -> None:
    assert BERLIN_OFFICE.describe(datetime(2026, 11, 24, 12, tzinfo=UTC)) == (
        "Tue 24 Nov 2026 13:00 CET"
    )
    assert BERLIN_OFFICE.describe(datetime(2026, 7, 1, 7, tzinfo=UTC)) == (
        "Wed 01 Jul 2026 09:00 CEST"
    )
    assert NEW_YORK_OFFICE.describe(datetime(2026, 7, 1, 13, tzinfo=UTC)) == (
        "Wed 01 Jul 2026 09:00 EDT"
    )
