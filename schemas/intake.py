"""AP intake: mailbox screening rules, the poller's contract, and intake-log reasons."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from schemas.text import Text


class RejectReason(StrEnum):
    """Why a mail did not become an invoice."""

    NO_ATTACHMENT = "no_attachment"
    UNKNOWN_SENDER = "unknown_sender"
    NOT_AN_INVOICE = "not_an_invoice"
    DUPLICATE = "duplicate"
    UNREADABLE = "unreadable"
    TOO_LARGE = "too_large"


class ScreeningRules(BaseModel):
    """Which mails of a mailbox may become invoices; every rule given must pass."""

    subject_keywords: list[Text] = Field(
        default_factory=list,
        max_length=50,
        description="The subject must contain one of these (case-insensitive); empty: any.",
    )
    subject_excludes: list[Text] = Field(
        default_factory=list,
        max_length=50,
        description="A subject containing one of these is not an invoice (e.g. 'newsletter').",
    )
    allowed_senders: list[Text] = Field(
        default_factory=list, max_length=500, description="Addresses always accepted as senders."
    )
    allowed_domains: list[Text] = Field(
        default_factory=list, max_length=500, description="Sender domains accepted as well."
    )
    known_suppliers_only: bool = Field(
        default=True,
        description="Accept senders from a known supplier's domains (plus the two lists above).",
    )
    attachment_types: list[Text] = Field(
        default_factory=lambda: ["pdf", "xml"],
        min_length=1,
        description="Attachment types that carry invoices: pdf, xml (UBL/CII), zip.",
    )

    @field_validator("subject_keywords", "subject_excludes")
    @classmethod
    def _words(cls, words: list[str]) -> list[str]:
        cleaned = [w.strip().lower() for w in words if w.strip()]
        if any(len(w) > 200 for w in cleaned):
            raise ValueError("a subject keyword is at most 200 characters")
        return cleaned

    @field_validator("allowed_senders", "allowed_domains")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        cleaned = [v.strip().lower().lstrip("@") for v in values if v.strip()]
        if any(len(v) > 320 or " " in v for v in cleaned):
            raise ValueError("senders and domains are plain addresses without spaces")
        return cleaned

    @field_validator("attachment_types")
    @classmethod
    def _types(cls, types: list[str]) -> list[str]:
        known = {"pdf", "xml", "zip"}
        cleaned = sorted({t.strip().lower().lstrip(".") for t in types})
        if set(cleaned) - known:
            raise ValueError(f"attachment types are some of {sorted(known)}")
        return cleaned


class PollMailboxInput(BaseModel):
    """Read up to one batch of new mail from a mailbox (by id: the secret stays in SQL)."""

    mailbox_id: str


class PollMailboxOutput(BaseModel):
    """What one batch did; `more` when mail is still waiting."""

    seen: int = 0
    accepted: int = 0
    rejected: int = 0
    more: bool = False


class MailboxPollerInput(BaseModel):
    """One scheduled pass over a mailbox."""

    mailbox_id: str
    max_batches: int = Field(default=20, ge=1)


class MailboxPollerResult(BaseModel):
    """What the pass did, or why it stopped."""

    seen: int = 0
    accepted: int = 0
    rejected: int = 0
    error: str | None = None
