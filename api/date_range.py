"""A from/to filter on dates as the reports take it: both with a timezone, from before to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from api.problems import Problem


def check_range(
    start: datetime | None, end: datetime | None, names: tuple[str, str] = ("from", "to")
) -> None:
    """422 for a date without a timezone, or a start not before the end."""
    for moment in (start, end):
        if moment is not None and moment.tzinfo is None:
            raise Problem(422, "give dates with a timezone, e.g. 2026-11-01T00:00:00Z")
    if start and end and start >= end:
        raise Problem(422, f"{names[0]} must be before {names[1]}")


@dataclass(frozen=True)
class DateRange:
    """At or after `start`, before `end`; either may be open."""

    start: datetime | None
    end: datetime | None


def date_range(
    start: Annotated[datetime | None, Query(alias="from", description="At or after.")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Before.")] = None,
) -> DateRange:
    """The `from` and `to` query parameters."""
    check_range(start, end)
    return DateRange(start, end)


DateRangeDep = Annotated[DateRange, Depends(date_range)]
