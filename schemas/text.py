"""Free text that SQL can store: PostgreSQL refuses the NUL character anywhere in text."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("the NUL character is not allowed")
    return value


def without_nul(value: str | None) -> str | None:
    """The text with NUL characters dropped (for text read from documents and mails)."""
    return value.replace("\x00", "") if value is not None else None


Text = Annotated[str, AfterValidator(_no_nul)]
