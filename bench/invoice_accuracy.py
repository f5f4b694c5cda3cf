"""Field accuracy of the invoice extraction on a folder of PDFs with invoice2data's JSON.

For every <name>.pdf with a <name>.json, each field both the JSON and our schema have is
compared: amounts to the cent, dates exactly, strings case-blind without spaces (and without
a leading "#"), the supplier by rapidfuzz token_set_ratio >= 85 against `issuer`. Lines are
scored apart and are not in the accuracy. Prints one JSON line.

    .venv/bin/python bench/invoice_accuracy.py [folder]
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rapidfuzz import fuzz  # noqa: E402

from extraction.pipeline import extract_invoice  # noqa: E402
from schemas.invoice_fields import InvoiceFields  # noqa: E402

DEFAULT_FOLDER = Path("/work/shared/data/invoices/invoice2data-compare")

# Our field name -> invoice2data's.
FIELD_MAP: dict[str, str] = {
    "invoice_number": "invoice_number",
    "invoice_date": "date",
    "due_date": "date_due",
    "currency": "currency",
    "total": "amount",
    "subtotal": "amount_untaxed",
    "tax": "amount_tax",
    "supplier_name": "issuer",
    "supplier_vat_id": "vat",
    "po_number": "purchase_order_id",
    "iban": "iban",
}
AMOUNTS = frozenset({"total", "subtotal", "tax"})
DATES = frozenset({"invoice_date", "due_date"})
NAME_MATCH = 85


def normalise(field: str, value: object) -> object:
    """The value as compared: a cent-exact Decimal, a date, or a case-blind compact string."""
    if value is None:
        return None
    if field in AMOUNTS:
        try:
            return Decimal(str(value)).quantize(Decimal("0.01"))
        except InvalidOperation:
            return None
    if field in DATES:
        return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
    return "".join(str(value).split()).casefold().lstrip("#")


def field_right(field: str, expected: object, found: object) -> bool:
    """Whether the value found counts as the expected one."""
    if found is None:
        return False
    if field == "supplier_name":
        return fuzz.token_set_ratio(str(expected).casefold(), str(found).casefold()) >= NAME_MATCH
    return normalise(field, expected) == normalise(field, found)


def compare(expected: dict[str, Any], fields: InvoiceFields) -> dict[str, bool]:
    """Right or wrong for each field the expected JSON has."""
    result: dict[str, bool] = {}
    for ours, theirs in FIELD_MAP.items():
        if expected.get(theirs) in (None, ""):
            continue
        extracted = getattr(fields, ours)
        result[ours] = field_right(ours, expected[theirs], extracted.value if extracted else None)
    return result


def _expected_lines(expected: dict[str, Any]) -> list[Decimal]:
    """The amounts of the expected item lines (headers and notes left out)."""
    amounts = []
    for line in expected.get("lines", []):
        value = line.get("price_subtotal", line.get("price", line.get("price_unit")))
        if value is not None:
            amounts.append(Decimal(str(value)).quantize(Decimal("0.01")))
    return amounts


def _lines_matched(expected: list[Decimal], fields: InvoiceFields) -> int:
    found = [
        v.quantize(Decimal("0.01"))
        for line in fields.lines
        for v in (line.amount, line.unit_price)
        if v is not None
    ]
    matched = 0
    for amount in expected:
        if amount in found:
            found.remove(amount)
            matched += 1
    return matched


def measure_accuracy(folder: Path | str = DEFAULT_FOLDER) -> dict[str, Any]:
    """Accuracy, misses per invoice, line matches and speed over the folder's invoices."""
    folder = Path(folder)
    compared = right = lines_expected = lines_matched = 0
    misses: dict[str, list[str]] = {}
    text_ms = text_pages = ocr_ms = 0.0
    ocr_pages = 0
    timed: list[tuple[float, int, int]] = []
    for expected_path in sorted(folder.glob("*.json")):
        pdf = expected_path.with_suffix(".pdf")
        if not pdf.exists():
            continue
        expected = json.loads(expected_path.read_text())[0]
        started = time.perf_counter()
        report = extract_invoice(pdf.read_bytes(), filename=pdf.name)
        elapsed = (time.perf_counter() - started) * 1000
        timed.append((elapsed, report.pages, report.ocr_pages))
        results = compare(expected, report.fields)
        compared += len(results)
        right += sum(results.values())
        wrong = [name for name, ok in results.items() if not ok]
        if wrong:
            misses[pdf.stem] = wrong
        amounts = _expected_lines(expected)
        lines_expected += len(amounts)
        lines_matched += _lines_matched(amounts, report.fields)
    for elapsed, pages, ocr in timed:
        if not ocr:
            text_ms += elapsed
            text_pages += pages
    per_text_page = text_ms / text_pages if text_pages else 0.0
    for elapsed, pages, ocr in timed:
        if ocr:
            # What a document with OCR took beyond reading its text layer.
            ocr_ms += elapsed - per_text_page * pages
            ocr_pages += ocr
    return {
        "fields_compared": compared,
        "fields_right": right,
        "accuracy": round(right / compared, 4) if compared else 0.0,
        "misses": misses,
        "lines_expected": lines_expected,
        "lines_matched": lines_matched,
        "ms_per_text_page": round(per_text_page, 1),
        "ms_per_ocr_page": round(ocr_ms / ocr_pages, 1) if ocr_pages else None,
    }


def main() -> None:
    """Print the measurement for the folder given (or the shared set) as one JSON line."""
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FOLDER
    print(json.dumps(measure_accuracy(folder)))


if __name__ == "__main__":
    main()
