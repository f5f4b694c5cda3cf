"""Free text that SQL can store: PostgreSQL refuses the NUL character anywhere in text."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, SecretStr


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("the NUL character is not allowed")
    return value


def without_nul(value: str | None) -> str | None:
    """The text with NUL characters dropped (for text read from documents and mails)."""
    return value.replace("\x00", "") if value is not None else None


Text = Annotated[str, AfterValidator(_no_nul)]


def storable_secret(secret: SecretStr) -> SecretStr:
    """A secret SQL and the cipher can take: no NUL, valid UTF-8 (no lone surrogate)."""
    value = secret.get_secret_value()
    _no_nul(value)
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("the secret is not valid text") from None
    return secret
