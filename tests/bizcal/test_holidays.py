"""Freezing an org calendar: public holidays resolved to explicit closed dates."""

from __future__ import annotations

import re
from datetime import date

import pytest

from bizcal.holidays import snapshot_calendar
from schemas.calendar import OpeningHours, OrgCalendar, known_country


def snapshot_dates(**fields: object) -> set[date]:
    """The closed dates of a 2026-2028 snapshot of an org calendar with these fields."""
    calendar = OrgCalendar.model_validate(fields)
    return set(snapshot_calendar(calendar, 2026, 2).closed_dates)


GERMANY = snapshot_dates(timezone="Europe/Berlin", holiday_country="DE")
BAVARIA = snapshot_dates(timezone="Europe/Berlin", holiday_country="DE", holiday_subdivision="BY")


@pytest.mark.parametrize(
    ("day", "closed"),
    [
        pytest.param(date(2026, 1, 1), True, id="new-year-2026"),
        pytest.param(date(2026, 4, 3), True, id="good-friday-2026"),
        pytest.param(date(2026, 4, 6), True, id="easter-monday-2026"),
        pytest.param(date(2027, 3, 26), True, id="good-friday-2027"),
        pytest.param(date(2027, 3, 29), True, id="easter-monday-2027"),
        pytest.param(date(2027, 5, 6), True, id="ascension-2027"),
        pytest.param(date(2027, 10, 3), True, id="unity-day-2027"),
        pytest.param(date(2028, 4, 17), True, id="easter-monday-2028-last-covered-year"),
        pytest.param(date(2026, 12, 24), False, id="dec-24-is-no-public-holiday"),
        pytest.param(date(2026, 12, 25), True, id="dec-25"),
        pytest.param(date(2026, 12, 26), True, id="dec-26"),
        pytest.param(date(2027, 1, 6), False, id="epiphany-not-national"),
        pytest.param(date(2027, 3, 30), False, id="tuesday-after-easter"),
        pytest.param(date(2025, 12, 25), False, id="before-first-year"),
        pytest.param(date(2029, 1, 1), False, id="after-last-year"),
    ],
)
def test_german_public_holidays(day: date, closed: bool) -> None:
    assert (day in GERMANY) is closed


@pytest.mark.parametrize(
    ("day", "in_germany", "in_bavaria"),
    [
        pytest.param(date(2027, 1, 6), False, True, id="epiphany"),
        pytest.param(date(2027, 5, 27), False, True, id="corpus-christi"),
        pytest.param(date(2027, 11, 1), False, True, id="all-saints"),
        pytest.param(date(2027, 3, 29), True, True, id="easter-monday-everywhere"),
    ],
)
def test_subdivision_adds_regional_holidays(day: date, in_germany: bool, in_bavaria: bool) -> None:
    assert (day in GERMANY) is in_germany
    assert (day in BAVARIA) is in_bavaria


def test_bavaria_has_every_national_holiday() -> None:
    assert GERMANY < BAVARIA


def test_us_state_holidays() -> None:
    california = snapshot_dates(
        timezone="America/Los_Angeles", holiday_country="US", holiday_subdivision="CA"
    )
    federal = snapshot_dates(timezone="America/New_York", holiday_country="US")
    assert date(2026, 7, 3) in federal  # Independence Day observed on the Friday
    assert date(2026, 11, 26) in federal  # Thanksgiving
    assert date(2026, 3, 31) in california  # Cesar Chavez Day
    assert date(2026, 3, 31) not in federal


def test_own_closures_are_merged_with_public_holidays() -> None:
    own = [date(2026, 12, 24), date(2026, 12, 31), date(2027, 3, 29)]  # the last is public too
    calendar = OrgCalendar(timezone="Europe/Berlin", holiday_country="DE", own_closures=own)
    snapshot = snapshot_calendar(calendar, 2026, 2)
    assert set(snapshot.closed_dates) == GERMANY | set(own)
    assert snapshot.closed_dates == sorted(set(snapshot.closed_dates))  # sorted, no duplicates


def test_own_closures_only_without_a_holiday_country() -> None:
    own = [date(2026, 11, 24), date(2026, 8, 3)]
    snapshot = snapshot_calendar(OrgCalendar(own_closures=own), 2026, 2)
    assert snapshot.closed_dates == sorted(own)


def test_own_closures_outside_the_covered_years_are_kept() -> None:
    own = [date(2031, 6, 1)]
    snapshot = snapshot_calendar(OrgCalendar(holiday_country="DE", own_closures=own), 2026, 1)
    assert date(2031, 6, 1) in snapshot.closed_dates


@pytest.mark.parametrize(
    ("first_year", "years_ahead", "covers"),
    [
        pytest.param(2026, 2, (2026, 2028), id="two-years-ahead"),
        pytest.param(2027, 0, (2027, 2027), id="this-year-only"),
        pytest.param(2030, 5, (2030, 2035), id="five-years-ahead"),
    ],
)
def test_covers_years(first_year: int, years_ahead: int, covers: tuple[int, int]) -> None:
    snapshot = snapshot_calendar(OrgCalendar(holiday_country="DE"), first_year, years_ahead)
    assert snapshot.covers_years == covers
    years = {day.year for day in snapshot.closed_dates}
    assert years == set(range(covers[0], covers[1] + 1))


def test_snapshot_keeps_timezone_week_and_priorities() -> None:
    week = {"mon": [OpeningHours(opens="08:00", closes="12:00")]}
    calendar = OrgCalendar(
        timezone="America/New_York",
        week=week,
        priority_factors={"EXPRESS": 0.25},
        holiday_country="US",
    )
    snapshot = snapshot_calendar(calendar, 2026, 1)
    assert snapshot.timezone == "America/New_York"
    assert snapshot.week == {"mon": [OpeningHours(opens="08:00", closes="12:00")]}
    assert snapshot.priority_factors == {"EXPRESS": 0.25, "STANDARD": 1.0}


def test_snapshot_round_trips_through_json() -> None:
    snapshot = snapshot_calendar(OrgCalendar(holiday_country="DE"), 2026, 2)
    again = type(snapshot).model_validate_json(snapshot.model_dump_json())
    assert again == snapshot


@pytest.mark.parametrize(
    ("country", "subdivision", "message"),
    [
        pytest.param("XX", None, "no public holiday data for country 'XX'", id="unknown-country"),
        pytest.param("de", None, "no public holiday data for country 'de'", id="lowercase"),
        pytest.param("XX", "BY", "no public holiday data for country 'XX'", id="unknown-both"),
        pytest.param("DE", "XX", "country 'DE' has no subdivision 'XX'", id="unknown-subdivision"),
        pytest.param(
            "DE", "CA", "country 'DE' has no subdivision 'CA'", id="other-countrys-subdiv"
        ),
        pytest.param("US", "ZZ", "country 'US' has no subdivision 'ZZ'", id="unknown-us-state"),
    ],
)
def test_unknown_country_or_subdivision_is_refused(
    country: str, subdivision: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        known_country(country, subdivision)
    # The org's calendar refuses it when it is configured, long before any request starts.
    with pytest.raises(ValueError, match=re.escape(message)):
        OrgCalendar(holiday_country=country, holiday_subdivision=subdivision)


def test_empty_country_has_no_data() -> None:
    with pytest.raises(ValueError, match="^no public holiday data for country ''$"):
        known_country("", None)


@pytest.mark.parametrize(
    ("country", "subdivision"),
    [
        pytest.param("DE", None, id="de"),
        pytest.param("DE", "BY", id="de-by"),
        pytest.param("US", "CA", id="us-ca"),
        pytest.param("US", "NY", id="us-ny"),
        pytest.param("GB", "SCT", id="gb-scotland"),
    ],
)
def test_known_countries_pass(country: str, subdivision: str | None) -> None:
    known_country(country, subdivision)
