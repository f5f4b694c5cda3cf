"""The screening rules: which mails become invoices, and the reason for the others."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from intake.mail import Attachment, ParsedMail
from schemas.intake import RejectReason, ScreeningRules


@dataclass(frozen=True)
class Rejection:
    """Why a mail is not taken in."""

    code: RejectReason
    reason: str


def _domain_matches(domain: str, domains: Collection[str]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in domains)


def sender_allowed(
    sender: str | None, rules: ScreeningRules, supplier_domains: Collection[str]
) -> bool:
    """The sender passes the sender rules (no sender rule at all lets everyone through)."""
    if not (rules.known_suppliers_only or rules.allowed_senders or rules.allowed_domains):
        return True
    if sender is None:
        return False
    domain = sender.rpartition("@")[2]
    if sender in rules.allowed_senders or _domain_matches(domain, rules.allowed_domains):
        return True
    return rules.known_suppliers_only and _domain_matches(domain, supplier_domains)


def carries_invoice(attachment: Attachment, rules: ScreeningRules) -> bool:
    """A PDF or e-invoice XML of an allowed type (inside a zip when zips are allowed)."""
    if attachment.role not in ("invoice", "xml"):
        return False
    allowed = "zip" if attachment.from_archive else attachment.kind
    return allowed in rules.attachment_types


def screen(
    mail: ParsedMail, rules: ScreeningRules, supplier_domains: Collection[str]
) -> Rejection | None:
    """None when the mail carries an invoice to take in, else the first rule it fails."""
    if not mail.attachments and mail.problems:
        return Rejection(RejectReason.UNREADABLE, "; ".join(mail.problems))
    if not sender_allowed(mail.sender, rules, supplier_domains):
        who = mail.sender or "(no sender address)"
        return Rejection(
            RejectReason.UNKNOWN_SENDER, f"{who} is not a known supplier or an allowed sender"
        )
    subject = mail.subject.lower()
    excluded = next((w for w in rules.subject_excludes if w in subject), None)
    if excluded:
        return Rejection(RejectReason.NOT_AN_INVOICE, f"the subject contains {excluded!r}")
    if rules.subject_keywords and not any(w in subject for w in rules.subject_keywords):
        wanted = ", ".join(repr(w) for w in rules.subject_keywords)
        return Rejection(RejectReason.NOT_AN_INVOICE, f"the subject contains none of {wanted}")
    if not mail.attachments:
        return Rejection(RejectReason.NO_ATTACHMENT, "the mail has no attachment")
    invoices = [a for a in mail.attachments if carries_invoice(a, rules)]
    if not invoices:
        if mail.problems:
            return Rejection(RejectReason.UNREADABLE, "; ".join(mail.problems))
        names = ", ".join(a.filename for a in mail.attachments[:10])
        allowed = "/".join(rules.attachment_types)
        return Rejection(
            RejectReason.NOT_AN_INVOICE, f"no {allowed} invoice among the attachments ({names})"
        )
    return None
