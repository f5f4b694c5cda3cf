"""A scanned invoice (an image-only PDF) is read by OCR with the same finders as text."""

from __future__ import annotations

import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import img2pdf
import pytest

from bench.invoice_accuracy import DEFAULT_FOLDER
from extraction.pipeline import extract_invoice
from schemas.invoice_fields import ExtractionMethod, FieldSource

TEXT_INVOICE = DEFAULT_FOLDER / "coolblue1.pdf"


@pytest.mark.skipif(not TEXT_INVOICE.exists(), reason=f"{TEXT_INVOICE} is not there")
def test_scanned_invoice_is_read_by_ocr(tmp_path: Path) -> None:
    subprocess.run(
        ["pdftoppm", "-r", "200", "-gray", "-png", str(TEXT_INVOICE), str(tmp_path / "page")],
        check=True,
    )
    scan = img2pdf.convert([str(p) for p in sorted(tmp_path.glob("page*.png"))])
    report = extract_invoice(scan, filename="scan.pdf")
    fields = report.fields
    assert (report.method, report.pages, report.ocr_pages) == (ExtractionMethod.OCR, 1, 1)
    assert fields.total and fields.total.value == Decimal("717.97")
    assert fields.invoice_number and fields.invoice_number.value == "993548900"
    assert fields.invoice_date and fields.invoice_date.value == date(2014, 4, 19)
    assert fields.total.source is FieldSource.OCR
    assert 0 < fields.total.confidence < 1
