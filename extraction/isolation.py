"""Reading an invoice in a child process with a memory cap and a deadline.

A hostile PDF (a decompression bomb, a page with a million operators) can exhaust memory or
spin for minutes inside the PDF libraries. Each document is read in its own process, forked
from a forkserver that has already imported the readers (so a call costs milliseconds, not an
interpreter start). The child runs under RLIMIT_AS in its own process group; on timeout the
whole group (tesseract included) is killed. A child that is killed, crashes or runs out of
time becomes UnreadableDocument(code="too_complex").
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
from multiprocessing.connection import Connection
from typing import Any

from extraction.documents import UnreadableDocument, sniff
from extraction.limits import ExtractionLimits
from extraction.pipeline import extract_invoice
from schemas.invoice_fields import ExtractionReport

_CONTEXT = multiprocessing.get_context("forkserver")
# The forkserver imports these once; every child starts with pdfplumber and friends loaded.
# "__main__" too, or each child would run the main module again: as with any multiprocessing
# start method but fork, the main module must be safe to import (`if __name__ == "__main__"`).
_CONTEXT.set_forkserver_preload(["__main__", "extraction.pipeline"])


def _child(conn: Connection, data: bytes, filename: str, limits: ExtractionLimits) -> None:
    """Read the document under the memory cap and send back the report or the error."""
    message: tuple[Any, ...]
    try:
        os.setsid()  # its own process group, so a timeout also ends tesseract
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        report = extract_invoice(data, filename=filename, limits=limits)
        message = ("ok", report.model_dump_json())
    except UnreadableDocument as error:
        message = ("unreadable", error.reason, error.code)
    except MemoryError:
        message = ("unreadable", "reading the document needs too much memory", "too_complex")
    except Exception as error:  # anything else is a bug, reported to the parent, not lost
        message = ("error", f"{type(error).__name__}: {error}")
    try:
        conn.send(message)
    finally:
        conn.close()


def _kill_group(process: Any) -> None:
    """End the child and everything it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def extract_invoice_isolated(
    data: bytes, *, filename: str, limits: ExtractionLimits | None = None
) -> ExtractionReport:
    """Read an invoice in a child process within the limits' memory and time; blocking.

    Raises UnreadableDocument, with code too_complex when the child is killed, crashes or
    overruns timeout_seconds.
    """
    limits = limits or ExtractionLimits()
    sniff(data, limits)  # size and magic bytes need no child process
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    process = _CONTEXT.Process(
        target=_child, args=(sender, data, filename, limits), name="invoice-extraction"
    )
    process.start()
    sender.close()
    try:
        if not receiver.poll(limits.timeout_seconds):
            raise UnreadableDocument(
                f"reading took longer than {limits.timeout_seconds:g} s", "too_complex"
            )
        try:
            message = receiver.recv()
        except EOFError:
            process.join(timeout=5)
            raise UnreadableDocument(
                f"the reader stopped (exit code {process.exitcode})", "too_complex"
            ) from None
    finally:
        if process.is_alive():
            _kill_group(process)
        process.join()
        receiver.close()
    kind, *rest = message
    if kind == "ok":
        return ExtractionReport.model_validate_json(rest[0])
    if kind == "unreadable":
        raise UnreadableDocument(rest[0], rest[1])
    raise RuntimeError(f"invoice extraction failed: {rest[0]}")
