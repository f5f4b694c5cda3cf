"""API shapes of the request reports and the audit export."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SlaRow(BaseModel):
    """One approval level of one template, over the requests in the report's range."""

    template_key: str
    level_id: str
    level_name: str
    requests: int = Field(description="Requests that have this level.")
    decided: int = Field(description="Levels approved or rejected.")
    median_business_hours: float | None = Field(
        description="Business hours from the level's start to its decision (pauses included)."
    )
    p90_business_hours: float | None
    breached_share: float | None = Field(description="Share of started levels that breached.")
    escalations: int
    backlog: int = Field(description="Levels waiting for a decision now.")


class SlaReport(BaseModel):
    """Per template and level: volume, business time to decision, breaches, backlog."""

    created_from: datetime | None
    created_to: datetime | None
    rows: list[SlaRow]
