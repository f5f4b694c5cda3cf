"""Bad bytes in, a clear UnreadableDocument out; hostile PDFs ended by the isolated runner."""

from __future__ import annotations

import io
import resource
from collections.abc import Callable

import pypdf
import pytest

from extraction.documents import UnreadableDocument
from extraction.isolation import extract_invoice_isolated
from extraction.limits import ExtractionLimits
from extraction.pipeline import extract_invoice
from tests.extraction.handmade import (
    deflate_bomb,
    many_operators,
    text_pdf,
    zero_pages,
)

INVOICE = text_pdf(
    [
        (50, 60, "ACME Supplies GmbH"),
        (50, 100, "Invoice number: 2024-117"),
        (50, 120, "Invoice date: 14.03.2024"),
        (300, 300, "Total EUR 1.234,50"),
    ]
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def encrypted(data: bytes) -> bytes:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(data))
    writer.encrypt("a user password")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def code_of(read: Callable[[], object]) -> str:
    with pytest.raises(UnreadableDocument) as caught:
        read()
    assert caught.value.reason
    return caught.value.code


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (zero_pages(), "empty"),
        (PNG, "not_pdf"),
        (b"Invoice 12, total 10.00 EUR\n", "not_pdf"),
        (b"%PDF-1.4\n" + bytes(range(256)) * 8, "corrupt"),
        (INVOICE[: len(INVOICE) // 2], "corrupt"),
        (encrypted(INVOICE), "encrypted"),
    ],
    ids=["empty", "zero-pages", "png", "text", "garbage", "truncated", "encrypted"],
)
def test_unreadable_inputs_have_clear_codes(data: bytes, code: str) -> None:
    assert code_of(lambda: extract_invoice(data, filename="upload")) == code


def test_limits_on_bytes_and_pages() -> None:
    small = ExtractionLimits(max_bytes=len(INVOICE) - 1)
    assert code_of(lambda: extract_invoice(INVOICE, filename="a", limits=small)) == "too_large"
    two_pages = pypdf.PdfWriter(clone_from=io.BytesIO(INVOICE))
    two_pages.add_blank_page()
    out = io.BytesIO()
    two_pages.write(out)
    one = ExtractionLimits(max_pages=1)
    assert code_of(lambda: extract_invoice(out.getvalue(), filename="a", limits=one)) == (
        "too_many_pages"
    )


def test_an_invoice_reads_the_same_in_and_out_of_process() -> None:
    inside = extract_invoice(INVOICE, filename="a.pdf")
    assert inside.fields.total and str(inside.fields.total.value) == "1234.50"
    assert inside.fields.supplier_name and inside.fields.supplier_name.value == "ACME Supplies GmbH"
    assert extract_invoice_isolated(INVOICE, filename="a.pdf", limits=ExtractionLimits()) == inside


def test_isolated_runner_gives_the_same_codes() -> None:
    limits = ExtractionLimits()
    assert code_of(lambda: extract_invoice_isolated(PNG, filename="a", limits=limits)) == "not_pdf"
    garbage = encrypted(INVOICE)
    assert code_of(lambda: extract_invoice_isolated(garbage, filename="a", limits=limits)) == (
        "encrypted"
    )


def test_decompression_bomb_is_ended_without_growing_this_process() -> None:
    bomb = deflate_bomb(inflated_mb=500)
    assert len(bomb) < 1_000_000
    limits = ExtractionLimits(memory_bytes=300 * 1024 * 1024, timeout_seconds=30)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert code_of(lambda: extract_invoice_isolated(bomb, filename="b", limits=limits)) == (
        "too_complex"
    )
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert grown_kib < 50 * 1024


def test_a_page_with_a_million_operators_times_out() -> None:
    slow = many_operators(1_000_000)
    limits = ExtractionLimits(timeout_seconds=1)
    assert code_of(lambda: extract_invoice_isolated(slow, filename="s", limits=limits)) == (
        "too_complex"
    )
