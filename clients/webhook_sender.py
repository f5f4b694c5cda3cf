"""One signed attempt at a stored webhook delivery, recorded on the delivery's row.

Used for the first attempt straight from the notification fan-out (most receivers answer at
once, so most events need no workflow of their own) and for every retry by
WebhookDeliveryWorkflow's activity.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, update

from config.settings import Settings
from notify.webhooks import UnsafeTarget, check_target, sign
from store.db import transaction
from store.secret_box import SecretBox, SecretDecryptError, secret_box
from store.secret_columns import WEBHOOK_SECRET
from store.tables import Webhook, WebhookDelivery


@dataclass(frozen=True)
class Target:
    """Where a delivery goes and the secret that signs it."""

    url: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class Attempt:
    """How an attempt ended: delivered, failed (worth retrying) or gone (never will work)."""

    outcome: Literal["delivered", "failed", "gone"]
    detail: str = ""
    status_code: int | None = None


class WebhookSender:
    """Signs and POSTs deliveries; the HTTP client, the engine and the key ring are injected."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        http: httpx.AsyncClient,
        box: SecretBox | None = None,
    ) -> None:
        """Keep the clients (the key ring from settings unless one is given)."""
        self.engine = engine
        self.settings = settings
        self.http = http
        self.box = box or secret_box(settings)

    def target(self, webhook_id: str, url: str, stored_secret: str) -> Target | Attempt:
        """Where to send and the decrypted signing secret, or a failed attempt saying why."""
        try:
            secret = self.box.decrypt(stored_secret, context=WEBHOOK_SECRET.context(webhook_id))
        except SecretDecryptError as error:
            # A key missing from the ring is fixable: fail (and retry), never send unsigned.
            return Attempt("failed", str(error))
        return Target(url, secret)

    async def attempt(self, delivery_id: str, timeout_seconds: float) -> Attempt:
        """Load a stored delivery, send it unless it was delivered, record the attempt."""
        loaded = await asyncio.to_thread(self._load, delivery_id)
        if loaded is None:
            return Attempt("gone", f"no delivery {delivery_id}")
        delivery, hook = loaded
        if delivery.status == "delivered":
            return Attempt("delivered", "delivered before")
        if hook is None or not hook.active:
            return Attempt("gone", "the webhook was deleted or deactivated")
        target = self.target(hook.id, hook.url, hook.secret)
        if isinstance(target, Attempt):
            outcome = target
        else:
            outcome = await self.post(
                target, delivery.id, delivery.event_type, delivery.payload, timeout_seconds
            )
        await asyncio.to_thread(self._record_one, delivery.id, outcome)
        return outcome

    async def post(
        self,
        target: Target,
        delivery_id: str,
        event_type: str,
        payload: dict[str, Any],
        timeout_seconds: float,
    ) -> Attempt:
        """One signed POST of a payload; nothing is recorded (see `record`)."""
        try:
            await asyncio.to_thread(
                check_target, target.url, allow_private=self.settings.webhook_allow_private
            )
        except UnsafeTarget as unsafe:
            return Attempt("gone", str(unsafe))
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Signoff-Webhooks/1",
            "X-Signoff-Event": event_type,
            "X-Signoff-Delivery": delivery_id,
            "X-Signoff-Timestamp": str(timestamp),
            "X-Signoff-Signature": sign(target.secret, timestamp, body),
        }
        try:
            response = await self.http.post(
                target.url, content=body, headers=headers, timeout=timeout_seconds
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            return Attempt("failed", f"could not reach {target.url}: {error}")
        if not 200 <= response.status_code < 300:
            error = f"HTTP {response.status_code}: {response.text[:300]}"
            return Attempt("failed", f"{target.url} answered {error}", response.status_code)
        return Attempt("delivered", status_code=response.status_code)

    def _load(self, delivery_id: str) -> tuple[WebhookDelivery, Webhook | None] | None:
        with transaction(self.engine) as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                return None
            hook = session.get(Webhook, delivery.webhook_id)
            session.expunge_all()
            return delivery, hook

    def _record_one(self, delivery_id: str, attempt: Attempt) -> None:
        with transaction(self.engine) as session:
            record(session, delivery_id, attempt)


def record(session: Session, delivery_id: str, attempt: Attempt) -> None:
    """Count an attempt on the delivery's row: delivered, or its error."""
    delivered = attempt.outcome == "delivered"
    values: dict[str, object] = {
        "attempts": col(WebhookDelivery.attempts) + 1,
        "last_error": None if delivered else attempt.detail[:1000],
    }
    if delivered:
        values |= {"status": "delivered", "finished_at": datetime.now(UTC)}
    session.exec(
        update(WebhookDelivery).where(col(WebhookDelivery.id) == delivery_id).values(**values)
    )
