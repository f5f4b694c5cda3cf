"""The API's contract for an org's ERP connection: the secret goes in, and never comes out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    HttpUrl,
    SecretStr,
    UrlConstraints,
    field_validator,
)

from schemas.text import Text, storable_secret

BASE_URL_MAX = 2000
# An entry point's name in `signoff.erp_adapters`: no spaces, no '=' (it could not be declared).
ADAPTER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


def _fits_column(url: HttpUrl) -> HttpUrl:
    """The normalised URL (a "/" added, a host punycoded) must still fit what is stored."""
    if len(str(url)) > BASE_URL_MAX:
        raise ValueError(f"the URL is longer than {BASE_URL_MAX} characters once normalised")
    return url


BaseUrl = Annotated[HttpUrl, UrlConstraints(max_length=BASE_URL_MAX), AfterValidator(_fits_column)]


class ErpConnectionIn(BaseModel):
    """The whole connection, replacing what was there; a secret left out keeps the stored one
    (required when the org has none yet), and is never shown again."""

    adapter: Text = Field(min_length=1, max_length=64, pattern=ADAPTER_NAME, examples=["sap"])
    base_url: BaseUrl = Field(examples=["https://erp.example.com/api"])
    username: Text | None = Field(default=None, min_length=1, max_length=320)
    secret: SecretStr | None = Field(default=None, min_length=1, max_length=500)

    @field_validator("secret")
    @classmethod
    def _storable(cls, secret: SecretStr | None) -> SecretStr | None:
        return None if secret is None else storable_secret(secret)


class ErpConnectionOut(BaseModel):
    """The org's ERP connection without its secret."""

    adapter: str
    base_url: str
    username: str | None
    has_secret: bool
    updated_by: str
    updated_at: datetime
