"""Properties of business-time arithmetic on random calendars, instants and durations."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from bizcal.calendar import BusinessCalendar, Stretch
from schemas.calendar import WEEKDAYS, CalendarSnapshot, OpeningHours, clock_minutes

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Fixed offsets, DST at 02:00/03:00 (north and south), DST at midnight (Santiago, Havana),
# a 30-minute DST (Lord Howe) and odd offsets (Kathmandu +05:45, Chatham +12:45/+13:45).
ZONES = (
    "UTC",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/Santiago",
    "America/Havana",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
)

WINDOW_START = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW_SECONDS = 2 * 365 * 86400
QUARTER_HOUR = 900
CLOSURE_RANGE = (date(2025, 12, 1), date(2028, 3, 31))


def _transition_days(zone_name: str) -> list[date]:
    """Local dates in the window whose length is not 24 hours (DST changes)."""
    zone = ZoneInfo(zone_name)
    days = []
    day = date(2025, 12, 25)
    while day < date(2028, 1, 10):
        midnight = datetime.combine(day, time(), tzinfo=zone)
        next_midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
        if midnight.utcoffset() != next_midnight.utcoffset():
            days.append(day)
        day += timedelta(days=1)
    return days


TRANSITIONS = {zone: _transition_days(zone) for zone in ZONES}
DST_ZONES = tuple(zone for zone in ZONES if TRANSITIONS[zone])


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def day_hours(draw: st.DrawFn) -> list[tuple[int, int]]:
    """0-3 stretches on a quarter-hour grid, ordered, some touching (opens at the last close).

    One integer encodes the day: a few draws per calendar keep generation fast.
    """
    code = draw(st.integers(0, 4 * 97**6 - 1))
    touching, code = code % 4 == 0, code // 4
    marks = set()
    for _ in range(draw(st.integers(0, 3)) * 2):
        code, mark = divmod(code, 97)
        marks.add(mark * 15)
    return _pair(sorted(marks), touching)


@st.composite
def night_hours(draw: st.DrawFn) -> list[tuple[int, int]]:
    """1-3 stretches between 00:00 and 04:00 (where DST changes happen), then office hours."""
    marks = draw(st.lists(st.integers(0, 16), min_size=2, max_size=6, unique=True))
    return [*_pair(sorted(m * 15 for m in marks), draw(st.booleans())), (9 * 60, 17 * 60)]


def _pair(marks: list[int], touching: bool) -> list[tuple[int, int]]:
    stretches = [(marks[i], marks[i + 1]) for i in range(0, len(marks) - 1, 2)]
    if touching and len(stretches) > 1:
        stretches[1] = (stretches[0][1], stretches[1][1])
    return stretches


@st.composite
def calendars(draw: st.DrawFn, dst_nights: bool = False) -> BusinessCalendar:
    """A random org calendar: timezone, weekly hours and own closures.

    With `dst_nights`, a zone with DST and the same hours every night between 00:00 and 04:00,
    where DST changes make wall-clock times vanish or repeat.
    """
    kind = "night" if dst_nights else draw(st.sampled_from(("week", "week", "night", "24/7")))
    zone = draw(st.sampled_from(DST_ZONES if dst_nights else ZONES))
    if kind == "night":
        night = draw(night_hours())
        week = {day: night for day in WEEKDAYS}
    elif kind == "24/7":  # always open: days of 23 or 25 hours
        week = {day: [(0, 24 * 60)] for day in WEEKDAYS}
    else:
        week = {day: draw(day_hours()) for day in WEEKDAYS}
        if not any(week.values()):
            week["mon"] = [(9 * 60, 17 * 60)]
    first_closure, last_closure = CLOSURE_RANGE
    span = (last_closure - first_closure).days
    closures = {
        first_closure + timedelta(days=n) for n in draw(st.lists(st.integers(0, span), max_size=25))
    }
    if draw(st.booleans()):  # keep the DST days open
        closures -= set(TRANSITIONS[zone])
    snapshot = CalendarSnapshot(
        timezone=zone,
        week={
            day: [OpeningHours(opens=_clock(o), closes=_clock(c)) for o, c in stretches]
            for day, stretches in week.items()
        },
        closed_dates=sorted(closures),
        covers_years=(2026, 2028),
    )
    hours = {d: [f"{s.opens}-{s.closes}" for s in h] for d, h in snapshot.week.items() if h}
    note(f"calendar: {zone} {hours} closed {[str(d) for d in snapshot.closed_dates]}")
    return BusinessCalendar(snapshot)


@st.composite
def instants(draw: st.DrawFn, calendar: BusinessCalendar) -> datetime:
    """An aware instant in the window: anywhere, on the quarter-hour grid, or near a DST day."""
    kind = draw(st.sampled_from(("any", "grid", "dst")))
    transitions = TRANSITIONS[calendar.snapshot.timezone]
    if kind == "dst" and transitions:
        day = draw(st.sampled_from(transitions))
        midnight = datetime.combine(day, time(), tzinfo=calendar.zone).astimezone(UTC)
        offset = draw(st.integers(-48 * 4, 48 * 4)) * QUARTER_HOUR
        instant = midnight + timedelta(seconds=offset)
    elif kind == "grid":
        instant = WINDOW_START + timedelta(
            seconds=draw(st.integers(0, WINDOW_SECONDS // QUARTER_HOUR)) * QUARTER_HOUR
        )
    else:
        instant = WINDOW_START + timedelta(
            seconds=draw(st.integers(0, WINDOW_SECONDS)),
            microseconds=draw(st.integers(0, 999_999)),
        )
    # Callers may pass any zone: the org's, UTC or another one.
    shown = draw(st.sampled_from((UTC, calendar.zone, ZoneInfo("Asia/Tokyo"))))
    return instant.astimezone(shown)


def _weekly_seconds(calendar: BusinessCalendar) -> int:
    return sum(
        (clock_minutes(s.closes) - clock_minutes(s.opens)) * 60
        for hours in calendar.snapshot.week.values()
        for s in hours
    )


@st.composite
def durations(draw: st.DrawFn, calendar: BusinessCalendar, weeks: float = 2.0) -> float:
    """Business seconds up to `weeks` of the calendar's weekly hours, on a millisecond grid."""
    limit = int(_weekly_seconds(calendar) * weeks)
    if draw(st.booleans()):
        return float(draw(st.integers(0, limit // QUARTER_HOUR)) * QUARTER_HOUR)
    return draw(st.integers(0, limit * 1000)) / 1000


def _real(start: datetime, end: datetime) -> float:
    return (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()


def _stretches_around(calendar: BusinessCalendar, instant: datetime) -> list[Stretch]:
    day = calendar.local_date(instant)
    return [s for d in (day - timedelta(days=1), day) for s in calendar.stretches(d)]


def _is_open(calendar: BusinessCalendar, instant: datetime) -> bool:
    return any(o <= instant < c for o, c in _stretches_around(calendar, instant))


def _is_open_or_at_close(calendar: BusinessCalendar, instant: datetime) -> bool:
    return any(o < instant <= c for o, c in _stretches_around(calendar, instant))


def _normal_day(calendar: BusinessCalendar, day: date) -> bool:
    return day not in TRANSITIONS[calendar.snapshot.timezone]


def _wall_open(calendar: BusinessCalendar, day: date, second_of_day: float) -> bool:
    """Open by the wall clock: the weekday's opening hours, unless the day is closed."""
    if day in calendar.snapshot.closed_dates:
        return False
    hours = calendar.snapshot.week.get(WEEKDAYS[day.weekday()], [])
    return any(
        clock_minutes(s.opens) * 60 <= second_of_day < clock_minutes(s.closes) * 60 for s in hours
    )


def _wall_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """Business seconds by wall-clock arithmetic (right when no day in between changes DST)."""
    start_local, end_local = start.astimezone(calendar.zone), end.astimezone(calendar.zone)
    total = 0.0
    day = start_local.date()
    while day <= end_local.date():
        midnight = datetime.combine(day, time(), tzinfo=calendar.zone)
        hours = calendar.snapshot.week.get(WEEKDAYS[day.weekday()], [])
        if day not in calendar.snapshot.closed_dates:
            for s in hours:
                opens = midnight + timedelta(minutes=clock_minutes(s.opens))
                closes = midnight + timedelta(minutes=clock_minutes(s.closes))
                overlap = (min(closes, end_local) - max(opens, start_local)).total_seconds()
                total += max(overlap, 0.0)
        day += timedelta(days=1)
    return total


def _working_days_from(calendar: BusinessCalendar, first: date, count: int) -> list[date]:
    days: list[date] = []
    day = first
    while len(days) < count:
        if calendar.stretches(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def _day_length(calendar: BusinessCalendar, day: date) -> float:
    return sum(_real(o, c) for o, c in calendar.stretches(day))


# Each test draws one scenario and checks several properties of it: drawing random calendars
# is the expensive part, so the properties share the draws.


@SETTINGS
@given(st.data())
def test_adding_business_seconds(data: st.DataObject) -> None:
    calendar = data.draw(calendars(), label="calendar")
    start = data.draw(instants(calendar), label="start")
    x, y = sorted((data.draw(durations(calendar)), data.draw(durations(calendar))))
    add, between = calendar.add_business_seconds, calendar.business_seconds_between
    deadline = add(start, x)

    # the business time from start to deadline is what was added
    assert abs(between(start, deadline) - x) <= 1e-6
    assert deadline >= start
    assert deadline.utcoffset() == timedelta(0)
    # a deadline lies in an open stretch or exactly at its close (never at the next opening)
    if x > 0:
        assert _is_open_or_at_close(calendar, deadline), calendar.describe(deadline)
    else:
        assert deadline == calendar.next_opening(start)
    # adding more never ends earlier
    later = add(start, y)
    assert deadline <= later
    # adding in two steps is adding the sum (the second step positive: adding 0 at a close
    # moves on to the next opening)
    if y > x:
        assert abs(_real(add(deadline, y - x), later)) <= 1e-6


@SETTINGS
@given(st.data())
def test_next_opening(data: st.DataObject) -> None:
    calendar = data.draw(calendars(), label="calendar")
    instant = data.draw(instants(calendar), label="instant")
    opening = calendar.next_opening(instant)

    assert opening >= instant
    assert _is_open(calendar, opening)
    assert calendar.next_opening(opening) == opening
    assert calendar.business_seconds_between(instant, opening) == 0
    # Compared in UTC: an instant inside a DST fold never equals another zone's (PEP 495).
    assert (opening == instant.astimezone(UTC)) is _is_open(calendar, instant)
    # independent model: on a day without a DST change, open iff the wall clock says so
    local = instant.astimezone(calendar.zone)
    if _normal_day(calendar, local.date()):
        second_of_day = (
            local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        )
        assert (opening == instant) is _wall_open(calendar, local.date(), second_of_day)


@SETTINGS
@given(st.data())
def test_business_seconds_between(data: st.DataObject) -> None:
    calendar = data.draw(calendars(), label="calendar")
    first = data.draw(instants(calendar), label="first")
    span = data.draw(st.sampled_from((86400, 7 * 86400, 30 * 86400)), label="span")
    offsets = data.draw(st.lists(st.integers(0, span * 10**6), min_size=3, max_size=3))
    a, b, c = sorted(first + timedelta(microseconds=offset) for offset in offsets)
    between = calendar.business_seconds_between

    # never more than real time, zero when the end is not after the start
    assert 0 <= between(a, c) <= _real(a, c) + 1e-6
    assert between(c, a) == 0
    assert between(b, b) == 0
    # consecutive intervals add up
    assert abs(between(a, c) - (between(a, b) + between(b, c))) <= 1e-6
    # independent model: away from DST changes it is wall-clock arithmetic
    first_day, last_day = calendar.local_date(a), calendar.local_date(c)
    days = [first_day + timedelta(days=n) for n in range(-1, (last_day - first_day).days + 2)]
    if all(_normal_day(calendar, d) for d in days):
        assert abs(between(a, c) - _wall_between(calendar, a, c)) <= 1e-6


@SETTINGS
@given(st.data())
def test_stretches_are_ordered_disjoint_and_non_empty(data: st.DataObject) -> None:
    calendar = data.draw(calendars(dst_nights=data.draw(st.booleans())), label="calendar")
    day = calendar.local_date(data.draw(instants(calendar), label="instant"))
    # around a random day and around every DST change of the window
    for middle in [day, *TRANSITIONS[calendar.snapshot.timezone]]:
        days = [middle + timedelta(days=n) for n in (-1, 0, 1)]
        stretches = [s for d in days for s in calendar.stretches(d)]
        for opens, closes in stretches:
            assert opens < closes
        for (_, before), (after, _) in itertools.pairwise(stretches):
            assert before <= after
        midnight = datetime.combine(days[0], time(), tzinfo=calendar.zone)
        end = datetime.combine(days[-1] + timedelta(days=1), time(), tzinfo=calendar.zone)
        business = calendar.business_seconds_between(midnight, end)
        assert abs(business - sum(_real(o, c) for o, c in stretches)) <= 1e-6
        assert business <= _real(midnight, end)


@SETTINGS
@given(st.data())
def test_adding_business_days(data: st.DataObject) -> None:
    calendar = data.draw(calendars(), label="calendar")
    instant = data.draw(instants(calendar), label="instant")
    n = data.draw(st.integers(1, 5), label="days")
    between = calendar.business_seconds_between

    # from a day's (first) opening: n full working days, ending at the n-th one's close
    day = calendar.local_date(calendar.next_opening(instant))
    opening = calendar.stretches(day)[0][0]
    deadline = calendar.add_business_days(opening, n)
    days = _working_days_from(calendar, day, n)
    assert deadline == calendar.stretches(days[-1])[-1][1]
    assert abs(between(opening, deadline) - sum(_day_length(calendar, d) for d in days)) <= 1e-6

    # from anywhere: a business instant, and from mid-day the same share of the n-th next
    # working day, so never more than a working day's business time for one day
    deadline = calendar.add_business_days(instant, n)
    assert _is_open_or_at_close(calendar, deadline)
    begin = calendar.next_opening(instant)
    if begin == opening:
        assert deadline == calendar.stretches(days[-1])[-1][1]
        return
    share = between(opening, begin) / _day_length(calendar, day)
    assert 0 < share < 1
    target = _working_days_from(calendar, day + timedelta(days=1), n)[-1]
    assert calendar.local_date(deadline) == target
    done = between(calendar.stretches(target)[0][0], deadline)
    assert abs(done - share * _day_length(calendar, target)) <= 1e-6
    if n == 1:
        assert (
            between(instant, deadline)
            <= max(_day_length(calendar, day), _day_length(calendar, target)) + 1e-6
        )
