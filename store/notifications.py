"""SQL of the notification fan-out: recipients, inbox entries, delivery records, tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select, update

from store.tables import ActionToken, Delivery, Notification, User, Webhook, WebhookDelivery
from store.upsert import insert_missing


@dataclass(frozen=True)
class Contact:
    """How to reach a user."""

    user_id: str
    email: str
    name: str
    channels: tuple[str, ...]


def contacts(session: Session, org_id: str, user_ids: set[str]) -> dict[str, Contact]:
    """Active users of the org among `user_ids`."""
    if not user_ids:
        return {}
    rows = session.exec(
        select(User).where(
            col(User.org_id) == org_id, col(User.id).in_(user_ids), col(User.active).is_(True)
        )
    )
    return {
        u.id: Contact(u.id, u.email, u.name, tuple(u.notification_channels or ())) for u in rows
    }


def add_inbox_entries(session: Session, rows: list[dict[str, Any]]) -> int:
    """Inbox entries that are not there yet (one per event and recipient)."""
    return insert_missing(session, Notification, rows, ["request_id", "event_seq", "recipient"])


def claim_deliveries(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Record these messages as being sent; return the keys not sent before."""
    if not rows:
        return set()
    insert_missing(session, Delivery, rows, ["key"])
    keys = [row["key"] for row in rows]
    sent = session.exec(
        select(Delivery.key).where(col(Delivery.key).in_(keys), col(Delivery.status) == "sent")
    )
    return set(keys) - set(sent)


def mark_delivered(session: Session, keys: list[str]) -> None:
    """Record that these messages went out."""
    if keys:
        session.exec(
            update(Delivery)
            .where(col(Delivery.key).in_(keys))
            .values(status="sent", sent_at=datetime.now(UTC))
        )


def add_action_tokens(session: Session, rows: list[dict[str, Any]]) -> None:
    """Store new tokens; a resend (reminder, escalation) reuses them and extends their life."""
    insert_missing(session, ActionToken, rows, ["token_hash"])
    for row in rows:
        session.exec(
            update(ActionToken)
            .where(
                col(ActionToken.token_hash) == row["token_hash"],
                col(ActionToken.used_at).is_(None),
                col(ActionToken.expires_at) < row["expires_at"],
            )
            .values(expires_at=row["expires_at"])
        )


@dataclass(frozen=True)
class Subscription:
    """An active webhook: the event types it wants, where it goes, what signs it."""

    webhook_id: str
    event_types: tuple[str, ...]
    url: str
    secret: str = field(repr=False)  # as stored: decrypted only by the sender, to sign


def subscribed_webhooks(session: Session, org_id: str) -> list[Subscription]:
    """The org's active webhooks."""
    rows = session.exec(
        select(Webhook.id, Webhook.event_types, Webhook.url, Webhook.secret).where(
            col(Webhook.org_id) == org_id, col(Webhook.active).is_(True)
        )
    )
    return [Subscription(i, tuple(types), url, secret) for i, types, url, secret in rows]


def add_webhook_deliveries(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Store deliveries not stored yet; return the attempts made so far on each one not
    delivered (0: never tried; a retried fan-out leaves the others to their workflows)."""
    if not rows:
        return {}
    insert_missing(session, WebhookDelivery, rows, ["id"])
    ids = [row["id"] for row in rows]
    undelivered = session.exec(
        select(WebhookDelivery.id, WebhookDelivery.attempts).where(
            col(WebhookDelivery.id).in_(ids), col(WebhookDelivery.status) != "delivered"
        )
    )
    return dict(undelivered.all())
