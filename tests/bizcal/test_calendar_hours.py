"""Adding business hours on concrete calendars and dates: the product rules, case by case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.bizcal.calendars import BERLIN_OFFICE, CALENDARS, berlin, local, new_york, utc

LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def los_angeles(*parts: int) -> datetime:
    """A Los Angeles wall-clock time."""
    return local(LOS_ANGELES, *parts)


# --- adding business hours -------------------------------------------------------------------

ADD_HOURS = [
    # plain office hours
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 10),
        3,
        berlin(2026, 11, 23, 13),
        id="mon-10:00+3h=mon-13:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 9),
        8,
        berlin(2026, 11, 23, 17),
        id="deadline-exactly-at-close-is-that-close-not-next-opening",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 13),
        4,
        berlin(2026, 11, 23, 17),
        id="mon-13:00+4h=mon-17:00-close",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 13),
        5,
        berlin(2026, 11, 24, 10),
        id="mon-13:00+5h=tue-10:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 13),
        16,
        berlin(2026, 11, 25, 13),
        id="mon-13:00+16h=wed-13:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 27, 15),
        4,
        berlin(2026, 11, 30, 11),
        id="fri-15:00+4h-skips-weekend=mon-11:00",
    ),
    # outside working hours: counting starts at the next opening
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 7, 30),
        1,
        berlin(2026, 11, 23, 10),
        id="before-opening-counts-from-09:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 17),
        1,
        berlin(2026, 11, 24, 10),
        id="created-exactly-at-close-counts-from-next-opening",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 23, 20),
        2,
        berlin(2026, 11, 24, 11),
        id="mon-20:00+2h=tue-11:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 21, 10),
        8,
        berlin(2026, 11, 23, 17),
        id="saturday-request+8h=mon-17:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 11, 22, 23, 59),
        0.5,
        berlin(2026, 11, 23, 9, 30),
        id="sunday-night-request+30min=mon-09:30",
    ),
    # German public holidays
    pytest.param(
        "berlin_office",
        berlin(2026, 4, 3, 17, 30),
        16,
        berlin(2026, 4, 8, 17),
        id="good-friday-17:30-before-easter-monday+16h=wed-17:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2027, 3, 26, 17, 30),
        16,
        berlin(2027, 3, 31, 17),
        id="2027-friday-17:30-before-easter-monday+16h=wed-17:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 4, 2, 16),
        2,
        berlin(2026, 4, 7, 10),
        id="maundy-thursday-16:00+2h-skips-easter=tue-10:00",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 12, 24, 16),
        2,
        berlin(2026, 12, 28, 10),
        id="dec-24-is-a-working-day-dec-25-26-are-not",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 12, 23, 16),
        10,
        berlin(2026, 12, 28, 10),
        id="dec-23-16:00+10h=dec-28-10:00-via-full-dec-24",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 12, 31, 16),
        2,
        berlin(2027, 1, 4, 10),
        id="new-years-eve-16:00+2h-skips-new-year-and-weekend",
    ),
    # the org's own closures
    pytest.param(
        "berlin_own_closures",
        berlin(2026, 12, 23, 16),
        2,
        berlin(2026, 12, 28, 10),
        id="own-closure-dec-24-skipped",
    ),
    pytest.param(
        "berlin_own_closures",
        berlin(2026, 11, 23, 13),
        8,
        berlin(2026, 11, 25, 13),
        id="own-closure-tue-24-nov-skipped",
    ),
    # two stretches a day
    pytest.param(
        "berlin_lunch",
        berlin(2026, 11, 23, 11),
        2,
        berlin(2026, 11, 23, 14),
        id="lunch-break-skipped",
    ),
    pytest.param(
        "berlin_lunch",
        berlin(2026, 11, 23, 9),
        3,
        berlin(2026, 11, 23, 12),
        id="lunch-deadline-exactly-at-12:00-is-12:00",
    ),
    pytest.param(
        "berlin_lunch",
        berlin(2026, 11, 23, 12, 30),
        1,
        berlin(2026, 11, 23, 14),
        id="created-during-lunch-counts-from-13:00",
    ),
    pytest.param(
        "berlin_lunch",
        berlin(2026, 11, 23, 9),
        7,
        berlin(2026, 11, 23, 17),
        id="lunch-7h-from-09:00=17:00",
    ),
    pytest.param(
        "berlin_lunch",
        berlin(2026, 11, 23, 16),
        2,
        berlin(2026, 11, 24, 10),
        id="lunch-16:00+2h=tue-10:00",
    ),
    # DST in Berlin (2026: spring forward Sun 29 Mar, fall back Sun 25 Oct)
    pytest.param(
        "berlin_24_7",
        berlin(2026, 3, 28, 12),
        24,
        berlin(2026, 3, 29, 13),
        id="24x7-spring-forward-24h-is-24-real-hours=13:00-wall",
    ),
    pytest.param(
        "berlin_24_7",
        berlin(2026, 10, 24, 12),
        24,
        berlin(2026, 10, 25, 11),
        id="24x7-fall-back-24h-is-24-real-hours=11:00-wall",
    ),
    pytest.param(
        "berlin_24_7",
        berlin(2026, 3, 29, 1),
        1,
        berlin(2026, 3, 29, 3),
        id="24x7-01:00+1h=03:00-across-the-gap",
    ),
    pytest.param(
        "berlin_24_7",
        berlin(2026, 10, 25, 2, 30),
        1,
        berlin(2026, 10, 25, 2, 30, fold=1),
        id="24x7-02:30-CEST+1h=02:30-CET",
    ),
    pytest.param(
        "berlin_every_day",
        berlin(2026, 3, 29, 9),
        8,
        berlin(2026, 3, 29, 17),
        id="office-hours-on-spring-forward-sunday-stay-8-hours",
    ),
    pytest.param(
        "berlin_every_day",
        berlin(2026, 10, 25, 9),
        8,
        berlin(2026, 10, 25, 17),
        id="office-hours-on-fall-back-sunday-stay-8-hours",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 3, 27, 13),
        8,
        berlin(2026, 3, 30, 13),
        id="office-fri-13:00-CET+8h=mon-13:00-CEST",
    ),
    pytest.param(
        "berlin_office",
        berlin(2026, 10, 23, 13),
        8,
        berlin(2026, 10, 26, 13),
        id="office-fri-13:00-CEST+8h=mon-13:00-CET",
    ),
    pytest.param(
        "berlin_gap_stretch",
        berlin(2026, 3, 29, 0),
        1,
        berlin(2026, 3, 29, 10),
        id="stretch-inside-the-dst-gap-is-empty",
    ),
    pytest.param(
        "berlin_gap_stretch",
        berlin(2026, 3, 22, 0),
        1,
        berlin(2026, 3, 22, 9, 30),
        id="same-stretch-on-a-normal-sunday-is-30min",
    ),
    pytest.param(
        "berlin_night_shifts",
        berlin(2026, 3, 29, 0),
        23,
        berlin(2026, 3, 30, 0),
        id="night-shifts-on-spring-forward-sunday-are-23-real-hours",
    ),
    # US
    pytest.param(
        "new_york_office",
        new_york(2026, 7, 2, 16),
        2,
        new_york(2026, 7, 6, 10),
        id="ny-independence-day-observed-fri-3-jul-skipped",
    ),
    pytest.param(
        "new_york_office",
        new_york(2026, 11, 2, 16),
        2,
        new_york(2026, 11, 4, 10),
        id="ny-election-day-skipped",
    ),
    pytest.param(
        "new_york_office",
        new_york(2026, 11, 25, 16),
        2,
        new_york(2026, 11, 27, 10),
        id="ny-thanksgiving-skipped",
    ),
    pytest.param(
        "new_york_office",
        new_york(2026, 3, 6, 13),
        8,
        new_york(2026, 3, 9, 13),
        id="ny-fri-13:00-EST+8h=mon-13:00-EDT",
    ),
    pytest.param(
        "new_york_office",
        new_york(2026, 10, 30, 13),
        8,
        new_york(2026, 11, 2, 13),
        id="ny-fri-13:00-EDT+8h=mon-13:00-EST",
    ),
    pytest.param(
        "california_office",
        los_angeles(2026, 3, 30, 16),
        2,
        los_angeles(2026, 4, 1, 10),
        id="ca-cesar-chavez-day-skipped",
    ),
    pytest.param(
        "new_york_office",
        new_york(2026, 3, 30, 16),
        2,
        new_york(2026, 3, 31, 10),
        id="ny-has-no-cesar-chavez-day",
    ),
    pytest.param(
        "california_office",
        los_angeles(2026, 11, 25, 16),
        2,
        los_angeles(2026, 11, 30, 10),
        id="ca-day-after-thanksgiving-skipped",
    ),
]


@pytest.mark.parametrize(("calendar", "start", "hours_", "expected"), ADD_HOURS)
def test_add_business_hours(
    calendar: str, start: datetime, hours_: float, expected: datetime
) -> None:
    cal = CALENDARS[calendar]
    deadline = cal.add_business_hours(start, hours_)
    assert deadline == utc(expected), f"{cal.describe(deadline)} != {cal.describe(expected)}"
    assert deadline.tzinfo is not None and deadline.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("calendar", "start", "hours_", "expected"), ADD_HOURS)
def test_business_time_until_deadline_is_the_tat(
    calendar: str, start: datetime, hours_: float, expected: datetime
) -> None:
    cal = CALENDARS[calendar]
    assert cal.business_seconds_between(start, expected) == pytest.approx(hours_ * 3600, abs=1e-6)


def test_a_microsecond_past_the_close_is_next_morning() -> None:
    deadline = BERLIN_OFFICE.add_business_seconds(berlin(2026, 11, 23, 9), 8 * 3600 + 1e-6)
    assert deadline == berlin(2026, 11, 24, 9, 0, 0, 1)


@pytest.mark.parametrize("paused_after_ms", [1, 75, 149, 1234, 3_599_999])
def test_float_rounding_never_pushes_a_deadline_from_the_close_to_next_morning(
    paused_after_ms: int,
) -> None:
    # A 16-hour clock started Mon 09:00, paused and resumed a few ms later: the rest of the
    # budget (a float) must still end exactly at Tue 17:00, not at Wed 09:00.
    start = berlin(2026, 11, 23, 9)
    resumed = start + timedelta(milliseconds=paused_after_ms)
    consumed = BERLIN_OFFICE.business_seconds_between(start, resumed)
    deadline = BERLIN_OFFICE.add_business_seconds(resumed, 16 * 3600 - consumed)
    assert deadline == utc(berlin(2026, 11, 24, 17)), BERLIN_OFFICE.describe(deadline)


def test_input_in_another_timezone_is_the_same_instant() -> None:
    start_utc = datetime(2026, 11, 23, 12, tzinfo=UTC)  # 13:00 in Berlin
    assert BERLIN_OFFICE.add_business_hours(start_utc, 4) == berlin(2026, 11, 23, 17)
    start_tokyo = start_utc.astimezone(ZoneInfo("Asia/Tokyo"))
    assert BERLIN_OFFICE.add_business_hours(start_tokyo, 4) == berlin(2026, 11, 23, 17)
