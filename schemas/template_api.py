"""The API's template contract: what an ADMIN sends and what anyone reads back."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from schemas.template import LevelTemplate, Tat, TemplateSnapshot


class TemplateBody(BaseModel):
    """A template version's content."""

    name: str = Field(min_length=1, max_length=200)
    levels: list[LevelTemplate] = Field(min_length=1, max_length=50)
    overall_tat: Tat | None = None


class TemplateCreate(TemplateBody):
    """A new template; its key never changes."""

    key: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")


class TemplateOut(TemplateSnapshot):
    """One version of a template."""

    created_at: datetime
    created_by: str | None
    deleted: bool


class TemplateList(BaseModel):
    """The org's templates, latest version each."""

    items: list[TemplateOut]
