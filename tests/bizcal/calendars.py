"""Calendars and wall-clock builders shared by the business-time tests on concrete dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bizcal.calendar import BusinessCalendar
from bizcal.holidays import snapshot_calendar
from schemas.calendar import OpeningHours, OrgCalendar

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

ALL_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORK_DAYS = ALL_DAYS[:5]


def hours(*stretches: str) -> list[OpeningHours]:
    """Opening hours from "09:00-17:00" strings."""
    return [OpeningHours(opens=s.split("-")[0], closes=s.split("-")[1]) for s in stretches]


def week(days: tuple[str, ...], *stretches: str) -> dict[str, list[OpeningHours]]:
    """The same stretches on each of `days`."""
    return {day: hours(*stretches) for day in days}


def org(**fields: Any) -> BusinessCalendar:
    """A calendar as an org configures it, frozen for 2026-2028."""
    return BusinessCalendar(snapshot_calendar(OrgCalendar(**fields), 2026, 2))


def local(
    zone: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    """A wall-clock time in `zone`."""
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)


def berlin(*parts: int, fold: int = 0) -> datetime:
    """A Berlin wall-clock time (fold=1: the second 02:xx of the fall-back night)."""
    return local(BERLIN, *parts).replace(fold=fold)


def new_york(*parts: int) -> datetime:
    """A New York wall-clock time."""
    return local(NEW_YORK, *parts)


def utc(instant: datetime) -> datetime:
    """The instant in UTC (aware datetimes in a DST fold never compare equal across zones)."""
    return instant.astimezone(UTC)


# Mon-Fri 09:00-17:00 in Berlin with German public holidays (Good Friday, Easter Monday, ...).
BERLIN_OFFICE = org(timezone="Europe/Berlin", holiday_country="DE")
# The same, plus the org's own closures: Christmas Eve and a company day on Tue 24 Nov 2026.
BERLIN_OWN_CLOSURES = org(
    timezone="Europe/Berlin",
    holiday_country="DE",
    own_closures=[date(2026, 12, 24), date(2026, 11, 24)],
)
# Mon-Fri with a lunch break: 09:00-12:00 and 13:00-17:00 (7 hours a day).
BERLIN_LUNCH = org(timezone="Europe/Berlin", week=week(WORK_DAYS, "09:00-12:00", "13:00-17:00"))
# Always open, in Berlin: a DST day has 23 or 25 real hours.
BERLIN_24_7 = org(timezone="Europe/Berlin", week=week(ALL_DAYS, "00:00-24:00"))
# 09:00-17:00 every day of the week in Berlin: DST Sundays are working days too.
BERLIN_EVERY_DAY = org(timezone="Europe/Berlin", week=week(ALL_DAYS, "09:00-17:00"))
# US offices with federal and state holidays.
NEW_YORK_OFFICE = org(timezone="America/New_York", holiday_country="US", holiday_subdivision="NY")
CALIFORNIA_OFFICE = org(
    timezone="America/Los_Angeles", holiday_country="US", holiday_subdivision="CA"
)
# Support shifts around the DST night: on the spring-forward Sunday 02:00-03:00 does not exist.
BERLIN_NIGHT_SHIFTS = org(
    timezone="Europe/Berlin", week={"sun": hours("00:00-02:30", "03:00-24:00")}
)
BERLIN_GAP_STRETCH = org(
    timezone="Europe/Berlin",
    week={"sun": hours("02:30-03:00", "09:00-17:00"), "mon": hours("09:00-17:00")},
)

CALENDARS = {
    "berlin_office": BERLIN_OFFICE,
    "berlin_own_closures": BERLIN_OWN_CLOSURES,
    "berlin_lunch": BERLIN_LUNCH,
    "berlin_24_7": BERLIN_24_7,
    "berlin_every_day": BERLIN_EVERY_DAY,
    "new_york_office": NEW_YORK_OFFICE,
    "california_office": CALIFORNIA_OFFICE,
    "berlin_night_shifts": BERLIN_NIGHT_SHIFTS,
    "berlin_gap_stretch": BERLIN_GAP_STRETCH,
}
