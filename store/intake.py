"""SQL of mail intake: mailboxes, dedupe claims and the intake log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select, update

from store.invoice_tables import IntakeClaim, IntakeEntry, Mailbox
from store.upsert import insert_missing


def logged_uids(
    session: Session, mailbox_id: str, uidvalidity: int, uids: Sequence[int]
) -> set[int]:
    """The UIDs of this mailbox generation that are in the intake log already."""
    if not uids:
        return set()
    rows = session.exec(
        select(IntakeEntry.uid).where(
            col(IntakeEntry.mailbox_id) == mailbox_id,
            col(IntakeEntry.uidvalidity) == uidvalidity,
            col(IntakeEntry.uid).in_(list(uids)),
        )
    )
    return {int(uid) for uid in rows if uid is not None}


def claim_keys(session: Session, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Claim dedupe keys for their owners; every key's actual owner comes back (a key
    claimed before by another mail or upload keeps that owner: this one is a duplicate)."""
    if not rows:
        return {}
    insert_missing(session, IntakeClaim, rows, ["org_id", "dedupe_key"])
    org_id = rows[0]["org_id"]
    keys = [row["dedupe_key"] for row in rows]
    found = session.exec(
        select(IntakeClaim.dedupe_key, IntakeClaim.owner).where(
            col(IntakeClaim.org_id) == org_id, col(IntakeClaim.dedupe_key).in_(keys)
        )
    )
    return {key: owner for key, owner in found}


def add_log_entries(session: Session, rows: list[dict[str, Any]]) -> int:
    """Log entries for mails not logged yet (keyed by mailbox, UIDVALIDITY, UID, or id)."""
    mailed = [r for r in rows if r["mailbox_id"] is not None]
    uploaded = [r for r in rows if r["mailbox_id"] is None]
    return insert_missing(
        session, IntakeEntry, mailed, ["mailbox_id", "uidvalidity", "uid"]
    ) + insert_missing(session, IntakeEntry, uploaded, ["id"])


def record_poll(session: Session, mailbox_id: str, at: datetime, error: str | None) -> None:
    """When the mailbox was last read, and what went wrong if it failed."""
    session.exec(
        update(Mailbox)
        .where(col(Mailbox.id) == mailbox_id)
        .values(last_polled_at=at, last_error=error[:1000] if error else None)
    )
