"""The shared invoice2data set: the fields both we and its JSON have, compared as the bench does."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bench.invoice_accuracy import DEFAULT_FOLDER, compare
from extraction.pipeline import extract_invoice
from schemas.invoice_fields import ExtractionMethod, ExtractionReport, FieldSource

pytestmark = pytest.mark.skipif(
    not DEFAULT_FOLDER.is_dir(), reason=f"the shared invoice set is not at {DEFAULT_FOLDER}"
)

# Fields the documents do not support: Azure's PO "444" and bank account "US1234567890" (no
# IBAN) are in neither its text nor its XML; Flipkart's seller is "WS Retail Services".
KNOWN_MISSES: dict[str, set[str]] = {
    "AzureInterior": {"po_number", "iban"},
    "FlipkartInvoice": {"supplier_name"},
}
NAMES = sorted(p.stem for p in DEFAULT_FOLDER.glob("*.json") if p.with_suffix(".pdf").exists())


@pytest.fixture(scope="module")
def reports() -> dict[str, ExtractionReport]:
    return {
        name: extract_invoice((DEFAULT_FOLDER / f"{name}.pdf").read_bytes(), filename=name)
        for name in NAMES
    }


@pytest.fixture(scope="module")
def results(reports: dict[str, ExtractionReport]) -> dict[str, dict[str, bool]]:
    """Right or wrong per field and invoice, by the bench's rules."""
    return {
        name: compare(json.loads((DEFAULT_FOLDER / f"{name}.json").read_text())[0], report.fields)
        for name, report in reports.items()
    }


@pytest.mark.parametrize("name", NAMES)
def test_fields_match_expected(
    name: str, reports: dict[str, ExtractionReport], results: dict[str, dict[str, bool]]
) -> None:
    wrong = {field for field, ok in results[name].items() if not ok}
    assert wrong == KNOWN_MISSES.get(name, set()), {
        field: getattr(reports[name].fields, field) for field in wrong
    }
    # Every invoice of the set yields the fields needed to validate it.
    fields = reports[name].fields
    assert fields.total and fields.invoice_number and fields.invoice_date


def test_overall_accuracy_is_at_least_90_percent(results: dict[str, dict[str, bool]]) -> None:
    outcomes = [ok for per_invoice in results.values() for ok in per_invoice.values()]
    assert len(outcomes) >= 70
    assert sum(outcomes) / len(outcomes) >= 0.9


def test_sources_say_how_each_field_was_read(reports: dict[str, ExtractionReport]) -> None:
    azure = reports["AzureInterior"]
    assert azure.method is ExtractionMethod.XML
    assert azure.fields.total and azure.fields.total.source is FieldSource.XML
    assert azure.fields.total.confidence == 1.0
    # Saeco's letterhead (name, IBAN) is an image: read by OCR, the rest from the text layer.
    saeco = reports["saeco"]
    assert saeco.method is ExtractionMethod.TEXT and saeco.ocr_pages == 1
    assert saeco.fields.supplier_name and saeco.fields.supplier_name.source is FieldSource.OCR
    assert saeco.fields.iban and saeco.fields.iban.value == "NL58RABO0198723202"
    assert saeco.fields.total and saeco.fields.total.source is FieldSource.TEXT
    assert saeco.fields.supplier_name.confidence < saeco.fields.total.confidence


def test_lines_are_read_from_tables(reports: dict[str, ExtractionReport]) -> None:
    report = reports["coolblue2"]
    assert report.fields.lines_source is FieldSource.TEXT
    expected = json.loads((DEFAULT_FOLDER / "coolblue2.json").read_text())[0]["lines"]
    expected_amounts = sorted(
        Decimal(str(x["price_subtotal"])) for x in expected if "price_subtotal" in x
    )
    assert sorted(line.amount for line in report.fields.lines if line.amount) == expected_amounts
    first = report.fields.lines[0]
    assert first.description.startswith("Decoded Leather Sleeve")
    assert first.quantity == Decimal(2)
    assert (first.unit_price, first.amount) == (Decimal("99.99"), Decimal("199.98"))


def test_no_file_name_is_looked_at(reports: dict[str, ExtractionReport]) -> None:
    data = (DEFAULT_FOLDER / "coolblue1.pdf").read_bytes()
    assert extract_invoice(data, filename="x.pdf").fields == reports["coolblue1"].fields
