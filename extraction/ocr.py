"""OCR of a rendered page with tesseract, as positioned words for the same layout finders."""

from __future__ import annotations

import functools
import math
import os
from typing import Any

import pytesseract
from pdfplumber.page import Page
from PIL import Image

from extraction.layout import PageLayout, Word, build_page

DPI = 200
# A page bigger than A4 is rendered at a lower resolution, so no bitmap exceeds this.
_MAX_PIXELS = 40_000_000
_LANGUAGES = ("eng", "fra", "deu", "nld", "pol")
# Tesseract's own threads slow it down when several documents are read at once.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")


@functools.cache
def _languages() -> str:
    """The invoice languages this tesseract has data for, e.g. "eng+fra"."""
    installed = set(pytesseract.get_languages(config=""))
    return "+".join(lang for lang in _LANGUAGES if lang in installed) or "eng"


def _resolution(page: Page) -> int:
    """DPI, or less for a page so large that the bitmap would pass _MAX_PIXELS."""
    inches = float(page.width) * float(page.height) / (72 * 72)
    return max(36, min(DPI, int(math.sqrt(_MAX_PIXELS / max(inches, 1e-6)))))


def render(page: Page) -> tuple[Image.Image, int]:
    """The page as a greyscale image and the resolution it was rendered at."""
    resolution = _resolution(page)
    image = page.to_image(resolution=resolution).original.convert("L")
    return image, resolution


def ocr_words(image: Image.Image, resolution: int) -> list[Word]:
    """Tesseract's words with boxes in points and confidences between 0 and 1."""
    data: dict[str, list[Any]] = pytesseract.image_to_data(
        image, lang=_languages(), output_type=pytesseract.Output.DICT
    )
    scale = 72 / resolution
    words: list[Word] = []
    for text, conf, left, top, width, height in zip(
        data["text"],
        data["conf"],
        data["left"],
        data["top"],
        data["width"],
        data["height"],
        strict=True,
    ):
        confidence = float(conf)
        if not str(text).strip() or confidence < 0:
            continue
        words.append(
            Word(
                text=str(text),
                x0=left * scale,
                x1=(left + width) * scale,
                top=top * scale,
                bottom=(top + height) * scale,
                confidence=confidence / 100,
            )
        )
    return words


def ocr_page(page: Page, number: int) -> PageLayout:
    """One page read by OCR, laid out in lines and segments."""
    image, resolution = render(page)
    return build_page(number, float(page.width), float(page.height), ocr_words(image, resolution))
