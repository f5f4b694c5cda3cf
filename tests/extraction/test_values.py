"""Dates, amounts, currencies, IBANs and VAT ids as invoices write them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from extraction.amounts import currencies_in, find_amounts, parse_amount
from extraction.dates import infer_day_first, parse_date
from extraction.identifiers import clean_reference, find_ibans, find_vat_ids, iban_checksum_ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-03-20", date(2023, 3, 20)),
        ("20/03/2023", date(2023, 3, 20)),
        ("20.03.2023", date(2023, 3, 20)),
        ("8-9-2022", date(2022, 9, 8)),
        ("21.05.14", date(2014, 5, 21)),
        ("March 20, 2023", date(2023, 3, 20)),
        ("August 3 , 2014", date(2014, 8, 3)),
        ("Jan 31, 2022", date(2022, 1, 31)),
        ("20 mars 2023", date(2023, 3, 20)),
        ("du 02 Juillet 2015", date(2015, 7, 2)),
        ("20. März 2023", date(2023, 3, 20)),
        ("7. Mai 2014", date(2014, 5, 7)),
        ("19 april 2014", date(2014, 4, 19)),
        ("15 października 2021", date(2021, 10, 15)),
        ("1st February 2024", date(2024, 2, 1)),
    ],
)
def test_dates_in_many_formats(text: str, expected: date) -> None:
    assert parse_date(text) == expected


def test_ambiguous_numeric_dates_follow_the_document() -> None:
    assert parse_date("03/04/2023", day_first=True) == date(2023, 4, 3)
    assert parse_date("03/04/2023", day_first=False) == date(2023, 3, 4)
    assert parse_date("03/20/2023", day_first=True) == date(2023, 3, 20)  # 20 is no month
    assert infer_day_first(["Date: 03/20/2023", "Due: 04/04/2023"]) is False
    assert infer_day_first(["28/11/2022"]) is True
    assert parse_date("31/02/2023") is None
    assert parse_date("Total 1939") is None


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("1.234,56", "1234.56", None),
        ("1,234.56", "1234.56", None),
        ("€ 12,00", "12.00", "EUR"),
        ("12.00 EUR", "12.00", "EUR"),
        ("$4.11", "4.11", "USD"),
        ("Rs 1939", "1939", "INR"),
        ("€ -9,32", "-9.32", "EUR"),
        ("1 234,56 zł", "234.56", "PLN"),  # a plain space does not group thousands
        ("CHF 1'250.00", "1250.00", "CHF"),
        ("£ 3.441.812,00", "3441812.00", "GBP"),
    ],
)
def test_amounts(text: str, value: str, currency: str | None) -> None:
    found = find_amounts(text)[-1]
    assert (found.value, found.currency) == (Decimal(value), currency)


def test_numbers_that_are_no_amounts() -> None:
    assert find_amounts("TOTAL AMOUNT DUE ON August 3 , 2014") == []
    assert find_amounts("Tax 15% on") == []
    assert find_amounts("Order 12572103") == []
    assert parse_amount("Tax 15% on $ 112.90") == Decimal("112.90")


def test_currency_named_in_text() -> None:
    counts = currencies_in(["All charges and prices are in US Dollars", "$4.11"])
    assert counts.most_common(1)[0][0] == "USD"
    assert not currencies_in(["sur free.fr. RSC Paris"])


def test_iban_needs_its_checksum() -> None:
    assert find_ibans("IBAN : FR76 10107 00245 00617052317 39 - BIC : BREDFRPP") == [
        "FR7610107002450061705231739"
    ]
    assert find_ibans("IBAN NL50INGB0683251309") == ["NL50INGB0683251309"]
    assert find_ibans("IBAN NL51INGB0683251309") == []  # one digit off
    assert find_ibans("FR76 ***************************") == []
    assert find_ibans("Bank Account: US1234567890") == []
    assert iban_checksum_ok("DE30 5075 0094 0000 0485 67")


def test_vat_ids_by_country_pattern() -> None:
    assert find_vat_ids("UStId DE 232 446 240") == ["DE232446240"]
    assert find_vat_ids("N° de TVA intra communautaire: FR 604 219 388 61") == ["FR60421938861"]
    assert find_vat_ids("BTW-nr: NL8152.54.295.B01") == ["NL815254295B01"]
    assert find_vat_ids("NIP PL7740001454") == ["PL7740001454"]
    assert find_vat_ids("ATU12345678 and BE0123456789") == ["ATU12345678", "BE0123456789"]
    assert find_vat_ids("Tel. +49 6051 916 44 10") == []


def test_document_numbers() -> None:
    assert clean_reference("# BLR_WFLD20151000982590") == "BLR_WFLD20151000982590"
    assert clean_reference("n°562044387 du 02 Juillet 2015") == "562044387"
    assert clean_reference("No.: INV/2023/03/0008,") == "INV/2023/03/0008"
    assert clean_reference("Summary") is None
    assert clean_reference("Date: August 3") is None
