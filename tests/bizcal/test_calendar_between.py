"""Business time between two instants on concrete calendars and dates, and the open stretches."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.bizcal.calendars import (
    BERLIN_24_7,
    BERLIN_LUNCH,
    BERLIN_OFFICE,
    CALENDARS,
    berlin,
    hours,
    new_york,
    org,
    utc,
)

BERLIN_AMBIGUOUS_STRETCH = org(timezone="Europe/Berlin", week={"sun": hours("02:00-03:00")})


def real_seconds(start: datetime, end: datetime) -> float:
    """Elapsed real time (aware arithmetic within one zone would use wall-clock time)."""
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()


# --- business time between two instants ------------------------------------------------------

BETWEEN = [
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 9),
        berlin(2026, 11, 23, 17),
        8,
        id="one-office-day",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 20, 16),
        berlin(2026, 11, 23, 10),
        2,
        id="weekend-does-not-count",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 18),
        berlin(2026, 11, 24, 8),
        0,
        id="overnight-is-zero",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 24, 10),
        berlin(2026, 11, 23, 10),
        0,
        id="end-before-start-is-zero",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 4, 2, 9),
        berlin(2026, 4, 7, 17),
        16,
        id="easter-thu-to-tue-is-two-days",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 12, 21),
        berlin(2026, 12, 28),
        32,
        id="christmas-week-has-four-working-days",
    ),
    pytest.param(
        "berlin_own_closures",
        berlin(2026, 12, 21),
        berlin(2026, 12, 28),
        24,
        id="christmas-week-with-dec-24-closed-has-three",
    ),
    pytest.param(
        "berlin_lunch",
        berlin(2026, 11, 23),
        berlin(2026, 11, 24),
        7,
        id="lunch-day-is-7-hours",
    ),
    pytest.param(
        "berlin_24_7",
        berlin(2026, 3, 29),
        berlin(2026, 3, 30),
        23,
        id="24x7-spring-forward-day-is-23-hours",
    ),
    pytest.param(
        "berlin_24_7",
        berlin(2026, 10, 25),
        berlin(2026, 10, 26),
        25,
        id="24x7-fall-back-day-is-25-hours",
    ),
    pytest.param(
        "berlin_24_7",
        berlin(2026, 3, 22),
        berlin(2026, 3, 23),
        24,
        id="24x7-normal-sunday-is-24-hours",
    ),
    pytest.param(
        "berlin_every_day",
        berlin(2026, 3, 29),
        berlin(2026, 3, 30),
        8,
        id="9-to-5-on-spring-forward-day-is-8-hours",
    ),
    pytest.param(
        "berlin_every_day",
        berlin(2026, 10, 25),
        berlin(2026, 10, 26),
        8,
        id="9-to-5-on-fall-back-day-is-8-hours",
    ),
    pytest.param(
        "berlin_night_shifts",
        berlin(2026, 3, 29),
        berlin(2026, 3, 30),
        23,
        id="shifts-00:00-02:30+03:00-24:00-on-spring-forward-day-are-23-hours",
    ),
    pytest.param(
        "berlin_night_shifts",
        berlin(2026, 3, 22),
        berlin(2026, 3, 23),
        23.5,
        id="same-shifts-on-a-normal-sunday-are-23.5-hours",
    ),
    pytest.param(
        "new_york_office",
        new_york(2026, 3, 6, 9),
        new_york(2026, 3, 9, 17),
        16,
        id="ny-across-spring-forward-weekend",
    ),
]


@pytest.mark.parametrize(("calendar", "start", "end", "expected_hours"), BETWEEN)
def test_business_seconds_between(
    calendar: str, start: datetime, end: datetime, expected_hours: float
) -> None:
    cal = CALENDARS[calendar]
    seconds = cal.business_seconds_between(start, end)
    assert seconds == pytest.approx(expected_hours * 3600, abs=1e-6)
    assert seconds <= max(real_seconds(start, end), 0)


def test_an_hour_stretch_in_the_repeated_fall_back_hour_lasts_two_real_hours() -> None:
    # 02:00-03:00 on 25 Oct 2026 runs from the first 02:00 (CEST) to 03:00 (CET)
    day = date(2026, 10, 25)
    [(opens, closes)] = BERLIN_AMBIGUOUS_STRETCH.stretches(day)
    assert opens == utc(berlin(2026, 10, 25, 2, fold=0)) == datetime(2026, 10, 25, 0, tzinfo=UTC)
    assert closes == datetime(2026, 10, 25, 2, tzinfo=UTC)
    assert real_seconds(opens, closes) == 2 * 3600


def test_stretches_are_utc_and_follow_dst() -> None:
    assert BERLIN_24_7.stretches(date(2026, 3, 29)) == [
        (datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC))
    ]
    assert BERLIN_LUNCH.stretches(date(2026, 7, 1)) == [
        (datetime(2026, 7, 1, 7, tzinfo=UTC), datetime(2026, 7, 1, 10, tzinfo=UTC)),
        (datetime(2026, 7, 1, 11, tzinfo=UTC), datetime(2026, 7, 1, 15, tzinfo=UTC)),
    ]
    assert BERLIN_OFFICE.stretches(date(2026, 4, 6)) == []  # Easter Monday
