"""The words of a PDF page's text layer, as pdfplumber places them."""

from __future__ import annotations

from pdfplumber.page import Page

from extraction.layout import PageLayout, Word, build_page


def has_text(page: Page) -> bool:
    """Whether the page has any characters in its text layer."""
    return any(c.get("text", "").strip() for c in page.chars)


def read_page(page: Page, number: int) -> PageLayout:
    """One page's text layer laid out in lines and segments."""
    words = [
        Word(text=w["text"], x0=w["x0"], x1=w["x1"], top=w["top"], bottom=w["bottom"])
        for w in page.extract_words(keep_blank_chars=False, use_text_flow=False)
        if w.get("upright", True)
    ]
    return build_page(number, float(page.width), float(page.height), words)
