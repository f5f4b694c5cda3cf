"""How supplier identifiers are written down once, so that the API stores and the ERP adapter
compares the same forms: VAT ids, IBANs, mail domains and company names."""

from __future__ import annotations

import re
import unicodedata

# Separators people type inside VAT ids and IBANs ("DE 123.456.789", "GB29 NWBK-6016...").
_SEPARATORS = re.compile(r"[\s.\-]+")
_VAT = re.compile(r"^[A-Z0-9]{4,40}$")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")

# Legal forms that follow a company's name, as tokens once dots are dropped and other
# punctuation is a space ("Sp. z o.o." -> "sp z oo", "GmbH & Co. KG" -> "gmbh co kg").
_LEGAL_SUFFIXES: tuple[tuple[str, ...], ...] = tuple(
    tuple(form.split())
    for form in (
        "sp z oo",
        "sa rl",
        "pty ltd",
        "inc",
        "incorporated",
        "ltd",
        "limited",
        "llc",
        "llp",
        "plc",
        "corp",
        "corporation",
        "co",
        "company",
        "gmbh",
        "mbh",
        "ag",
        "kg",
        "ohg",
        "ug",
        "se",
        "sa",
        "sas",
        "sarl",
        "bv",
        "nv",
        "spa",
        "srl",
        "sl",
        "oy",
        "ab",
        "as",
        "a s",
        "aps",
        "kft",
        "sro",
    )
)


def normalize_vat_id(value: str) -> str:
    """Upper case without spaces, dots or dashes ("de 123.456.789" -> "DE123456789")."""
    return _SEPARATORS.sub("", value).upper()


def normalize_iban(value: str) -> str:
    """Upper case without spaces, dots or dashes."""
    return _SEPARATORS.sub("", value).upper()


def check_vat_id(value: str) -> str:
    """The normalised VAT id; ValueError when it is not 4 to 40 letters and digits."""
    vat = normalize_vat_id(value)
    if not _VAT.match(vat) or not any(c.isdigit() for c in vat):
        raise ValueError("a VAT id is 4 to 40 letters and digits, at least one a digit")
    return vat


def check_iban(value: str) -> str:
    """The normalised IBAN; ValueError unless its shape and its mod-97 check digits are right."""
    iban = normalize_iban(value)
    if not _IBAN.match(iban):
        raise ValueError("an IBAN is a country code, 2 check digits and 11 to 30 letters or digits")
    rearranged = iban[4:] + iban[:4]
    # ISO 13616: letters count as 10..35; the whole number modulo 97 is 1.
    if int("".join(str(int(c, 36)) for c in rearranged)) % 97 != 1:
        raise ValueError("the IBAN's check digits are wrong")
    return iban


def check_domain(value: str) -> str:
    """A lower-case host name ("Example.COM." -> "example.com"); ValueError for anything else
    (a URL, an e-mail address, a bare word, an IP address)."""
    host = value.strip().lower().rstrip(".")
    if "@" in host or "/" in host or ":" in host:
        raise ValueError("a domain is a host name such as example.com, without scheme, path or @")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{value!r} is not a valid domain name") from None
    labels = host.split(".")
    if (
        len(host) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or not _TLD.match(labels[-1])
    ):
        raise ValueError(f"{value!r} is not a domain name such as example.com")
    return host


def comparable_name(name: str) -> str:
    """A company name for exact comparison: case-folded, accents and spacing evened out."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.split())


def core_name(name: str) -> str:
    """The name without its legal form ("ACME Sp. z o.o." -> "acme"), for fuzzy matching."""
    text = comparable_name(name).replace(".", "")
    tokens = re.sub(r"[^\w]+", " ", text).split()
    stripped = True
    while stripped:
        stripped = False
        for suffix in _LEGAL_SUFFIXES:
            # Keep at least one token: a company called "AB" is still called something.
            if len(tokens) > len(suffix) and tuple(tokens[-len(suffix) :]) == suffix:
                tokens = tokens[: -len(suffix)]
                stripped = True
                break
    return " ".join(tokens)
