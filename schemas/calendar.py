"""Business calendars: what an org configures and the frozen snapshot a request runs on."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")

DEFAULT_PRIORITY_FACTORS: dict[str, float] = {"STANDARD": 1.0, "EXPRESS": 0.5}


def clock_minutes(value: str) -> int:
    """Minutes after midnight of an "HH:MM" wall-clock string ("24:00" is the day's end)."""
    match = _CLOCK.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a time of day as HH:MM")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes > 24 * 60:
        raise ValueError(f"{value!r} is past 24:00")
    return minutes


class OpeningHours(BaseModel):
    """One stretch of working time within a day, in the org's local time."""

    model_config = ConfigDict(frozen=True)

    opens: str = Field(examples=["09:00"])
    closes: str = Field(examples=["17:00"], description='"24:00" means until midnight.')

    @model_validator(mode="after")
    def _opens_before_closes(self) -> OpeningHours:
        if clock_minutes(self.opens) >= clock_minutes(self.closes):
            raise ValueError(f"opening hours {self.opens}-{self.closes} must open before closing")
        return self


def _office_week() -> dict[Weekday, list[OpeningHours]]:
    nine_to_five = [OpeningHours(opens="09:00", closes="17:00")]
    return {day: list(nine_to_five) for day in WEEKDAYS[:5]}


class _WeekAndZone(BaseModel):
    """Timezone, weekly opening hours and priority factors, shared by both calendar shapes."""

    timezone: str = Field(default="UTC", examples=["Europe/Berlin"])
    week: dict[Weekday, list[OpeningHours]] = Field(
        default_factory=_office_week,
        description="Opening hours per weekday; a missing or empty day is not a working day.",
    )
    priority_factors: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_PRIORITY_FACTORS),
        description="Multiplier on every TAT by request priority (EXPRESS 0.5 halves it).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @field_validator("week")
    @classmethod
    def _some_working_time(
        cls, value: dict[Weekday, list[OpeningHours]]
    ) -> dict[Weekday, list[OpeningHours]]:
        if not any(value.values()):
            raise ValueError("the week has no working hours at all")
        for day, stretches in value.items():
            ordered = sorted(stretches, key=lambda s: clock_minutes(s.opens))
            for before, after in zip(ordered, ordered[1:], strict=False):
                if clock_minutes(after.opens) < clock_minutes(before.closes):
                    raise ValueError(f"opening hours overlap on {day}")
            value[day] = ordered
        return value

    @field_validator("priority_factors")
    @classmethod
    def _positive_factors(cls, value: dict[str, float]) -> dict[str, float]:
        for name, factor in value.items():
            if factor <= 0:
                raise ValueError(f"priority factor for {name} must be positive")
        if "STANDARD" not in value:
            value["STANDARD"] = 1.0
        return value


def known_country(country: str, subdivision: str | None) -> None:
    """Raise ValueError with a clear reason when holidays has no such country or subdivision."""
    try:
        holidays.country_holidays(country, years=2000)
    except NotImplementedError as exc:
        raise ValueError(f"no public holiday data for country {country!r}") from exc
    if subdivision is None:
        return
    try:
        holidays.country_holidays(country, subdiv=subdivision, years=2000)
    except (NotImplementedError, KeyError, ValueError) as exc:
        raise ValueError(f"country {country!r} has no subdivision {subdivision!r}") from exc


class OrgCalendar(_WeekAndZone):
    """The calendar an org configures: hours, public holidays by country, its own closures."""

    holiday_country: str | None = Field(default=None, min_length=2, examples=["DE"])
    holiday_subdivision: str | None = Field(default=None, min_length=1, examples=["BY"])
    own_closures: list[date] = Field(default_factory=list, description="Company-specific days off.")

    @model_validator(mode="after")
    def _known_holidays(self) -> OrgCalendar:
        if self.holiday_country:
            known_country(self.holiday_country, self.holiday_subdivision)
        elif self.holiday_subdivision:
            raise ValueError("a holiday subdivision needs a holiday country")
        return self


class CalendarSnapshot(_WeekAndZone):
    """A calendar frozen for one request: explicit closed dates, so replay never changes."""

    closed_dates: list[date] = Field(default_factory=list)
    covers_years: tuple[int, int] = Field(
        description="First and last year whose public holidays are in closed_dates."
    )
