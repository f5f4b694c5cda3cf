"""How much one document may cost to read: bytes, pages, OCR pages, time and memory."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExtractionLimits:
    """Bounds for reading one document; the isolated runner enforces time and memory."""

    max_bytes: int = 20 * 1024 * 1024
    max_pages: int = 50
    ocr_max_pages: int = 3
    timeout_seconds: float = 60.0
    memory_bytes: int = 1024 * 1024 * 1024
