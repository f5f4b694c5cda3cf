"""Money amounts ("1.234,56", "1,234.56", "€ 12,00", "12.00 EUR") and their currencies."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from extraction.dates import find_dates, fold

# Symbols and words that name a currency, lower case as seen in folded text.
_SYMBOLS: dict[str, str] = {
    "€": "EUR",
    "£": "GBP",
    "₹": "INR",
    "rs": "INR",
    "rs.": "INR",
    "zl": "PLN",
    "us$": "USD",
    "$": "USD",
    "¥": "JPY",
    "kc": "CZK",
}
CODES = frozenset(
    {"eur", "usd", "gbp", "chf", "pln", "inr", "sek", "nok", "dkk", "czk", "huf", "jpy", "cad",
     "aud", "cny", "ron", "bgn", "nzd", "sgd", "hkd", "zar"}
)  # fmt: skip
# Currency names in running text ("All charges are in US Dollars").
_NAMES: dict[str, str] = {
    "us dollars": "USD",
    "euros": "EUR",
    "euro": "EUR",
    "rupees": "INR",
    "pounds sterling": "GBP",
    "zlotych": "PLN",
}

_CURRENCY = r"(?:€|£|₹|us\$|\$|¥|rs\.?|zl|kc|" + "|".join(sorted(CODES)) + r")"
_NUMBER = r"\d{1,3}(?:[.,'\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?<![\w.,])(?:(?P<pre>{_CURRENCY})\s?)?(?P<sign>-)?\s?(?P<num>{_NUMBER})"
    rf"(?![\w%]|[.,]\d)(?:\s?(?P<post>{_CURRENCY})(?![a-z]))?"
)
_PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s?%")


@dataclass(frozen=True)
class Money:
    """An amount found in text, the currency written next to it, and where it was."""

    value: Decimal
    currency: str | None
    start: int
    end: int


def currency_code(marker: str) -> str | None:
    """The ISO 4217 code a symbol or code stands for, or None."""
    marker = fold(marker.strip())
    if marker in CODES:
        return marker.upper()
    return _SYMBOLS.get(marker)


def parse_number(text: str) -> Decimal | None:
    """A number written with either decimal mark: the last '.' or ',' followed by 1-2 digits."""
    text = re.sub(r"[\s'\u00a0\u202f]", "", text)
    match = re.search(r"[.,](\d{1,2})$", text)
    if match:
        whole = re.sub(r"[.,]", "", text[: match.start()])
        text = f"{whole}.{match.group(1)}"
    else:
        text = re.sub(r"[.,]", "", text)
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _masked(text: str) -> str:
    """The text with dates and percentages blanked out, so "3 , 2014" is no amount."""
    chars = list(text)
    spans = [(d.start, d.end) for d in find_dates(text)]
    spans += [m.span() for m in _PERCENT.finditer(text)]
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def find_amounts(text: str, *, bare_integers: bool = False) -> list[Money]:
    """Amounts in the text: with decimals or a currency next to them (or any number if asked)."""
    folded = fold(text)
    found: list[Money] = []
    for match in _AMOUNT.finditer(_masked(folded)):
        marker = match.group("pre") or match.group("post")
        has_decimals = re.search(r"[.,]\d{2}$", match.group("num")) is not None
        if not (marker or has_decimals or bare_integers):
            continue
        value = parse_number(match.group("num"))
        if value is None:
            continue
        if match.group("sign"):
            value = -value
        code = currency_code(marker) if marker else None
        found.append(Money(value, code, match.start(), match.end()))
    return found


def parse_amount(text: str) -> Decimal | None:
    """The first amount in the text, or None."""
    amounts = find_amounts(text)
    return amounts[0].value if amounts else None


def currencies_in(texts: Iterable[str]) -> Counter[str]:
    """How often each currency is named in the texts, by symbol, code or name."""
    counts: Counter[str] = Counter()
    for text in texts:
        folded = fold(text)
        for match in re.finditer(rf"(?<![a-z]){_CURRENCY}(?![a-z])", folded):
            code = currency_code(match.group(0))
            if code:
                counts[code] += 1
        for name, code in _NAMES.items():
            mentions = len(re.findall(rf"\b{name}\b", folded))
            if mentions:
                counts[code] += mentions
    return counts
