"""Bad invoice documents through the whole InvoiceWorkflow: each parks in NEEDS_REVIEW at
extract with a reason a person understands; a scan is read by OCR and carries on; the worker
keeps running after a decompression bomb."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import img2pdf
import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from schemas.invoice import InvoiceStatus, InvoiceStep
from tests.extraction.handmade import deflate_bomb, zero_pages
from tests.extraction.test_bad_input import INVOICE, encrypted
from tests.intake.mails import sample_pdf
from tests.invoicing.ap_world import seed_ap_world
from tests.invoicing.flow import start_invoice_document, until_state, widget_invoice
from workers.approval_worker import build_worker

LIMIT = 2_000_000


@pytest.fixture
def small_limits(test_settings: Settings) -> Settings:
    """A 2 MB invoice limit and a short, small-memory extraction, so hostile files end fast."""
    return test_settings.model_copy(
        update={
            "invoice_max_bytes": LIMIT,
            "invoice_extract_seconds": 20.0,
            "invoice_extract_memory_mb": 400,
        }
    )


@pytest.mark.parametrize(
    ("document", "words"),
    [
        (lambda: encrypted(INVOICE), "password"),
        (zero_pages, "no pages"),
        (lambda: b"%PDF-1.4\n" + b"0" * (LIMIT + 1), "more than the 2000000 allowed"),
        (lambda: deflate_bomb(600), "needs too much to read"),
    ],
    ids=["encrypted", "zero-pages", "too-large", "decompression-bomb"],
)
async def test_a_bad_pdf_waits_for_review_at_extract(
    time_skipping_env: WorkflowEnvironment,
    small_limits: Settings,
    engine: Engine,
    activity_executor: ThreadPoolExecutor,
    task_queue: str,
    document: object,
    words: str,
) -> None:
    client = time_skipping_env.client
    world = seed_ap_world(engine)
    assert callable(document)
    data = document()
    async with build_worker(client, small_limits, engine, activity_executor, task_queue):
        handle = await start_invoice_document(
            client, small_limits, task_queue, world, data, filename="invoice.pdf"
        )
        parked = await until_state(handle, lambda s: s.status is InvoiceStatus.NEEDS_REVIEW)
        assert parked.step is InvoiceStep.EXTRACT
        assert parked.reason is not None and parked.reason.startswith("invoice.pdf: ")
        assert words in parked.reason.lower(), parked.reason
        # The same worker goes on with the next invoice.
        good = await start_invoice_document(
            client, small_limits, task_queue, world, widget_invoice("OK-1")
        )
        after = await until_state(good, lambda s: s.step is InvoiceStep.APPROVE)
        assert after.status is InvoiceStatus.IN_PROGRESS
        for h in (handle, good):
            await h.terminate("test over")


async def test_a_scanned_invoice_is_read_by_ocr(
    time_skipping_env: WorkflowEnvironment,
    test_settings: Settings,
    engine: Engine,
    activity_executor: ThreadPoolExecutor,
    task_queue: str,
    tmp_path: Path,
) -> None:
    (tmp_path / "in.pdf").write_bytes(sample_pdf("QualityHosting.pdf"))
    try:
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                "200",
                "-gray",
                "-png",
                "-f",
                "1",
                "-l",
                "1",
                str(tmp_path / "in.pdf"),
                str(tmp_path / "page"),
            ],
            check=True,
        )
    except FileNotFoundError:
        pytest.skip("pdftoppm is not installed (Debian poppler-utils)")
    scan = img2pdf.convert([str(p) for p in sorted(tmp_path.glob("page*.png"))])
    assert isinstance(scan, bytes)
    client = time_skipping_env.client
    world = seed_ap_world(engine)
    async with build_worker(client, test_settings, engine, activity_executor, task_queue):
        handle = await start_invoice_document(
            client, test_settings, task_queue, world, scan, filename="scan.pdf"
        )
        state = await until_state(handle, lambda s: s.status is InvoiceStatus.NEEDS_REVIEW)
        await handle.terminate("test over")
    assert state.extraction_method == "ocr"
    assert state.fields.invoice_number is not None
    assert state.fields.invoice_number.value == "30064443"
    assert state.fields.invoice_number.source == "ocr"
    # QualityHosting is no supplier of this org: validation parks it, with OCR's fields kept.
    assert state.step is InvoiceStep.VALIDATE and state.status is InvoiceStatus.NEEDS_REVIEW
