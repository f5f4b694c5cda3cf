"""Business-time arithmetic over a frozen calendar snapshot (pure: no I/O, no clock reads)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from schemas.calendar import WEEKDAYS, CalendarSnapshot, clock_minutes
from schemas.template import Tat

# A calendar always has working time in its week, but closures could in theory hide it for
# years; past this many days we refuse rather than loop.
_MAX_DAYS_SCANNED = 366 * 20

# Instants have microsecond resolution, while business seconds are floats whose rounding
# errors (e.g. budget minus time consumed) are far smaller: a deadline within half a
# microsecond of a closing time is that closing time, not the next opening.
_HALF_MICROSECOND = 0.5e-6

Stretch = tuple[datetime, datetime]


class BusinessCalendar:
    """Business-time arithmetic for one org calendar; all instants in and out are aware UTC."""

    def __init__(self, snapshot: CalendarSnapshot) -> None:
        """Prepare lookups for the snapshot."""
        self.snapshot = snapshot
        self.zone = ZoneInfo(snapshot.timezone)
        self._closed = frozenset(snapshot.closed_dates)
        self._week = {
            WEEKDAYS.index(day): [(clock_minutes(s.opens), clock_minutes(s.closes)) for s in hours]
            for day, hours in snapshot.week.items()
        }
        self._stretch_cache: dict[date, list[Stretch]] = {}

    def priority_factor(self, priority: str) -> float:
        """The TAT multiplier for a priority; unknown priorities are refused."""
        try:
            return self.snapshot.priority_factors[priority]
        except KeyError:
            known = ", ".join(sorted(self.snapshot.priority_factors))
            raise ValueError(f"unknown priority {priority!r} (known: {known})") from None

    def is_working_day(self, day: date) -> bool:
        """A day with opening hours that is not a holiday or closure."""
        return bool(self._week.get(day.weekday())) and day not in self._closed

    def stretches(self, day: date) -> list[Stretch]:
        """The day's open stretches as UTC instants (a DST day is shorter or longer).

        Stretches come out ordered, disjoint and non-empty: around a DST gap, wall-clock times
        that do not exist can map to instants out of order, so each stretch is clipped to start
        no earlier than the previous one closed, and a stretch left empty is dropped.
        """
        cached = self._stretch_cache.get(day)
        if cached is not None:
            return cached
        result: list[Stretch] = []
        if self.is_working_day(day):
            for opens, closes in self._week[day.weekday()]:
                begin, end = self._instant(day, opens), self._instant(day, closes)
                if result:
                    begin = max(begin, result[-1][1])
                if begin < end:
                    result.append((begin, end))
        self._stretch_cache[day] = result
        return result

    def _instant(self, day: date, minutes: int) -> datetime:
        if minutes == 24 * 60:
            day, minutes = day + timedelta(days=1), 0
        local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def local_date(self, instant: datetime) -> date:
        """The org-local calendar date of an instant."""
        return _utc(instant).astimezone(self.zone).date()

    def _days_from(self, day: date) -> Iterator[date]:
        for offset in range(_MAX_DAYS_SCANNED):
            yield day + timedelta(days=offset)
        raise ValueError("the calendar has no working time within twenty years")

    def next_opening(self, instant: datetime) -> datetime:
        """The instant itself when the org is open then, else the next opening."""
        return self.add_business_seconds(instant, 0)

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant when `seconds` of business time have passed after `start`.

        Time starts counting at the next opening; a deadline that falls exactly on a closing
        time is that closing time, not the next opening.
        """
        if seconds < 0:
            raise ValueError("cannot add negative business time")
        cursor = _utc(start)
        remaining = seconds
        for day in self._days_from(self.local_date(cursor)):
            for opens, closes in self.stretches(day):
                if closes <= cursor:
                    continue
                begin = max(opens, cursor)
                available = (closes - begin).total_seconds()
                if remaining <= available + _HALF_MICROSECOND:
                    return begin + timedelta(seconds=min(remaining, available))
                remaining -= available
        raise AssertionError("unreachable")  # pragma: no cover

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """`add_business_seconds` in hours."""
        return self.add_business_seconds(start, hours * 3600)

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Business time between two instants (zero when end is not after start)."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return 0.0
        total = 0.0
        last_day = self.local_date(end)
        for day in self._days_from(self.local_date(start)):
            if day > last_day:
                break
            for opens, closes in self.stretches(day):
                overlap = (min(closes, end) - max(opens, start)).total_seconds()
                if overlap > 0:
                    total += overlap
        return total

    def _working_day_length(self, day: date) -> float:
        return sum((c - o).total_seconds() for o, c in self.stretches(day))

    def _nth_working_day(self, first: date, n: int) -> date:
        """The n-th working day counting `first` itself as the first when it is one."""
        seen = 0
        for day in self._days_from(first):
            if self.stretches(day):
                seen += 1
                if seen == n:
                    return day
        raise AssertionError("unreachable")  # pragma: no cover

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The same point of the working day, `days` working days later.

        Starting at (or before) an opening, N days end at the close of the N-th working day;
        starting mid-day, they end at the same share of the N-th following working day.
        """
        if days < 0:
            raise ValueError("cannot add negative business days")
        begin = self.next_opening(start)
        day = self.local_date(begin)
        if begin == self.stretches(day)[0][0] or days == 0:
            if days == 0:
                return begin
            target = self._nth_working_day(day, days)
            return self.stretches(target)[-1][1]
        share = self.business_seconds_between(self.stretches(day)[0][0], begin)
        share /= self._working_day_length(day)
        target = self._nth_working_day(day + timedelta(days=1), days)
        return self.add_business_seconds(
            self.stretches(target)[0][0], share * self._working_day_length(target)
        )

    def tat_seconds(self, start: datetime, tat: Tat, priority: str) -> float:
        """A TAT as business seconds from `start`, scaled by the priority's factor."""
        _utc(start)  # a naive start is refused even when an hours TAT would not need it
        factor = self.priority_factor(priority)
        if tat.hours is not None:
            return tat.hours * 3600 * factor
        assert tat.days is not None
        base = self.business_seconds_between(start, self.add_business_days(start, tat.days))
        return base * factor

    def describe(self, instant: datetime) -> str:
        """An instant in the org's local time, e.g. "Tue 24 Nov 2026 13:00 CET"."""
        return _utc(instant).astimezone(self.zone).strftime("%a %d %b %Y %H:%M %Z")


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("business-time arithmetic needs timezone-aware instants")
    return instant.astimezone(UTC)
