"""Dates written the ways invoices write them, in English, French, German, Dutch and Polish."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

# Month names without accents, lower case; abbreviations are matched by the name's prefix.
_MONTHS: dict[int, tuple[str, ...]] = {
    1: ("january", "janvier", "januar", "januari", "janner", "styczen", "stycznia"),
    2: ("february", "fevrier", "februar", "februari", "luty", "lutego"),
    3: ("march", "mars", "marz", "maerz", "maart", "marzec", "marca", "mrt"),
    4: ("april", "avril", "kwiecien", "kwietnia"),
    5: ("may", "mai", "mei", "maj", "maja"),
    6: ("june", "juin", "juni", "czerwiec", "czerwca"),
    7: ("july", "juillet", "juli", "lipiec", "lipca"),
    8: ("august", "aout", "augustus", "sierpien", "sierpnia"),
    9: ("september", "septembre", "wrzesien", "wrzesnia"),
    10: ("october", "octobre", "oktober", "pazdziernik", "pazdziernika"),
    11: ("november", "novembre", "listopad", "listopada"),
    12: ("december", "decembre", "dezember", "grudzien", "grudnia"),
}
_MONTH_WORD = r"[a-z]{3,12}"


def fold(text: str) -> str:
    """Lower case without accents, so "Février" and "fevrier" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def month_number(word: str) -> int | None:
    """The month a (possibly abbreviated) month name means, or None."""
    word = fold(word).rstrip(".")
    if len(word) < 3:
        return None
    for number, names in _MONTHS.items():
        for name in names:
            # "sept", "janv", "févr." are prefixes of the full name; "mrt" is listed as is.
            if name == word or (len(word) >= 3 and name.startswith(word) and len(word) <= 5):
                return number
    return None


_ISO = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_NUMERIC = re.compile(
    r"(?<![\d.,])(\d{1,2})\s?([./-])\s?(\d{1,2})\s?\2\s?(\d{4}|\d{2})(?![\d,]|\.\d)"
)
_DAY_MONTH = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th|er)?\.?\s*(?:de\s+)?({_MONTH_WORD})\.?,?\s+(\d{{4}})(?!\d)"
)
_MONTH_DAY = re.compile(
    rf"(?<![a-z])({_MONTH_WORD})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*(\d{{4}})(?!\d)"
)


@dataclass(frozen=True)
class FoundDate:
    """A date and where it was written in the searched text."""

    value: date
    start: int
    end: int


def _make(year: int, month: int, day: int) -> date | None:
    if year < 100:
        year += 2000
    if not 1990 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _numeric(match: re.Match[str], day_first: bool) -> date | None:
    first, second, year = int(match.group(1)), int(match.group(3)), int(match.group(4))
    if first > 12 or (day_first and second <= 12):
        return _make(year, second, first)
    return _make(year, first, second) or _make(year, second, first)


def find_dates(text: str, *, day_first: bool = True) -> list[FoundDate]:
    """Every date in the text in the order written; day_first settles 03/04/2023."""
    folded = fold(text)
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []

    def add(value: date | None, match: re.Match[str]) -> None:
        span = match.span()
        if value and not any(s < span[1] and span[0] < e for s, e in taken):
            found.append(FoundDate(value, *span))
            taken.append(span)

    for match in _ISO.finditer(folded):
        add(_make(int(match[1]), int(match[2]), int(match[3])), match)
    for match in _NUMERIC.finditer(folded):
        add(_numeric(match, day_first), match)
    for match in _DAY_MONTH.finditer(folded):
        month = month_number(match[2])
        add(_make(int(match[3]), month, int(match[1])) if month else None, match)
    for match in _MONTH_DAY.finditer(folded):
        month = month_number(match[1])
        add(_make(int(match[3]), month, int(match[2])) if month else None, match)
    return sorted(found, key=lambda f: f.start)


def parse_date(text: str, *, day_first: bool = True) -> date | None:
    """The first date in the text, or None."""
    dates = find_dates(text, day_first=day_first)
    return dates[0].value if dates else None


def infer_day_first(texts: Iterable[str], *, default: bool = True) -> bool:
    """Whether the document writes 20/03/2023 (day first) or 03/20/2023, from unambiguous dates."""
    votes = 0
    for text in texts:
        for match in _NUMERIC.finditer(text):
            first, second = int(match.group(1)), int(match.group(3))
            if first > 12 >= second:
                votes += 1
            elif second > 12 >= first:
                votes -= 1
    return default if votes == 0 else votes > 0
