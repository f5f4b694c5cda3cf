"""Identifiers: IBANs (checked with mod 97), EU VAT ids by country pattern, document numbers."""

from __future__ import annotations

import re
from collections.abc import Iterator

# IBAN length per country (ISO 13616 registry); an IBAN of another length is no IBAN.
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip

# EU (and a few neighbours') VAT numbers, written without spaces or dots.
_VAT_PATTERNS: tuple[str, ...] = (
    r"ATU\d{8}", r"BE[01]\d{9}", r"BG\d{9,10}", r"CY\d{8}[A-Z]", r"CZ\d{8,10}", r"DE\d{9}",
    r"DK\d{8}", r"EE\d{9}", r"EL\d{9}", r"ES[A-Z0-9]\d{7}[A-Z0-9]", r"FI\d{8}",
    r"FR[A-HJ-NP-Z0-9]{2}\d{9}", r"HR\d{11}", r"HU\d{8}", r"IE\d{7}[A-W][A-I]?", r"IT\d{11}",
    r"LT(?:\d{9}|\d{12})", r"LU\d{8}", r"LV\d{11}", r"MT\d{8}", r"NL\d{9}B\d{2}", r"PL\d{10}",
    r"PT\d{9}", r"RO\d{2,10}", r"SE\d{12}", r"SI\d{8}", r"SK\d{10}", r"GB(?:\d{9}|\d{12})",
    r"CHE\d{9}(?:MWST|TVA|IVA)?", r"NO\d{9}(?:MVA)?",
)  # fmt: skip
_VAT = re.compile("|".join(f"(?:{p})" for p in _VAT_PATTERNS))
_TOKEN_EDGE = ".,;:()[]"
# What stands before a number and is not part of it: "#", "n°", "No.", "Nr:", "number".
_REFERENCE_PREFIX = re.compile(r"^(?:[#:.]|n[°º]|n[ro]\.|n[ro]\b|nummer\b|number\b)\s*", re.I)


def _compact_runs(text: str, max_tokens: int) -> Iterator[tuple[int, str]]:
    """For each token, the token joined with the next ones (up to max_tokens), without spaces."""
    tokens = [t.strip(_TOKEN_EDGE) for t in text.split()]
    for i in range(len(tokens)):
        joined = ""
        for token in tokens[i : i + max_tokens]:
            joined += re.sub(r"[.\-]", "", token)
            yield i, joined.upper()


def iban_checksum_ok(iban: str) -> bool:
    """Whether the IBAN's length fits its country and its mod-97 check gives 1."""
    iban = re.sub(r"\s", "", iban).upper()
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def find_ibans(text: str) -> list[str]:
    """Valid IBANs in the text, written with or without spaces between groups."""
    found: list[str] = []
    for _, joined in _compact_runs(text, max_tokens=9):
        iban_like = re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", joined)
        if iban_like and iban_checksum_ok(joined) and joined not in found:
            found.append(joined)
    return found


def find_vat_ids(text: str) -> list[str]:
    """VAT ids in the text, written with or without spaces and dots ("DE 232 446 240")."""
    best: dict[int, str] = {}
    for start, joined in _compact_runs(text, max_tokens=6):
        if _VAT.fullmatch(joined) and len(joined) > len(best.get(start, "")):
            best[start] = joined
    found: list[str] = []
    for value in best.values():
        if value not in found:
            found.append(value)
    return found


def clean_reference(text: str) -> str | None:
    """A document number from the start of the text ("# INV-12", "n°562044387"), or None."""
    previous = None
    while previous != text:
        previous = text
        text = _REFERENCE_PREFIX.sub("", text.strip())
    if not text:
        return None
    token = text.split()[0].strip(_TOKEN_EDGE)
    if not re.fullmatch(r"[\w/\-.]{3,40}", token) or not re.search(r"\d", token):
        return None
    return token
