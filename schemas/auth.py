"""The API's auth and user contract."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, field_validator

PLATFORM_ROLES = ("ADMIN", "MANAGEMENT", "USER")
# Deliberately plain: internal domains (.test, .local, .corp) are real addresses in companies.
_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)


def _normal_email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 320 or not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


Email = Annotated[str, AfterValidator(_normal_email)]
_ROLE = re.compile(r"^(ADMIN|MANAGEMENT|USER|[a-z][a-z0-9-]{0,49})$")


def _valid_roles(roles: list[str]) -> list[str]:
    for role in roles:
        if not _ROLE.match(role):
            raise ValueError(
                f"role {role!r} is neither ADMIN, MANAGEMENT, USER nor an approver role "
                "like 'finance' (lower case, digits, dashes)"
            )
    return list(dict.fromkeys(roles))


class LoginInput(BaseModel):
    """E-mail and password."""

    email: Email
    password: str = Field(min_length=1, max_length=1000)


class RefreshInput(BaseModel):
    """A refresh token to rotate."""

    refresh_token: str = Field(min_length=1, max_length=4000)


class TokenPair(BaseModel):
    """An access token for API calls and a refresh token for the next pair."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid.")


class Me(BaseModel):
    """The caller."""

    id: str
    org_id: str
    email: str
    name: str
    roles: list[str]
    mfa_enabled: bool = False


class UserCreate(BaseModel):
    """A new user of the caller's org."""

    email: Email
    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(default_factory=lambda: ["USER"], min_length=1)
    password: str | None = Field(default=None, min_length=12, max_length=1000)
    reason: str | None = Field(
        default=None, max_length=2000, description="Why, for the security audit trail."
    )

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        return _valid_roles(value)


class UserUpdate(BaseModel):
    """Changes to a user; fields left out stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    roles: list[str] | None = Field(default=None, min_length=1)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=12, max_length=1000)
    reason: str | None = Field(
        default=None, max_length=2000, description="Why, for the security audit trail."
    )

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _valid_roles(value)


class UserOut(BaseModel):
    """A user as the API shows it (never the password hash)."""

    id: str
    org_id: str
    email: str
    name: str
    roles: list[str]
    active: bool
    mfa_enabled: bool = False
    created_at: datetime


class UserPage(BaseModel):
    """A page of users."""

    items: list[UserOut]
    total: int
    limit: int
    offset: int
