"""A webhook's signing secret at rest on the real stack: sealed in SQL, shown once at creation
and at rotation, never in a log line; deliveries are signed with it, and after a rotation with
the new one only."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import Engine

from store.tables import Webhook
from tests.api.conftest import Stack, as_user, login, start_purchase
from tests.api.secret_fixtures import (
    ADMIN,
    EVENT,
    request_id,
    security_events,
    stack_logs,
    stored_secret,
)
from tests.api.webhook_receiver import HOOKS, Hooks, Receiver, expected_signature

pytest_plugins = ["tests.api.secret_fixtures"]


async def test_a_webhook_secret_is_sealed_shown_once_signs_and_rotates(
    http: httpx.AsyncClient,
    stack: Stack,
    engine: Engine,
    receivers: Callable[[], Receiver],
) -> None:
    admin = await as_user(http, ADMIN)
    hooks = Hooks()
    receiver = receivers()
    try:
        hook = await hooks.create(http, admin, receiver, [EVENT])
        first_secret = hook["secret"]
        assert first_secret and receiver.secret == first_secret
        sealed = stored_secret(engine, Webhook, hook["id"])
        assert sealed.startswith("enc:v1:test:") and first_secret not in sealed
        for url in (f"{HOOKS}/{hook['id']}", f"{HOOKS}?limit=200"):
            shown = await http.get(url, headers=admin)
            assert shown.status_code == 200 and first_secret not in shown.text
            assert "enc:v1:" not in shown.text

        started = await start_purchase(http, await as_user(http, "rita@acme.test"))
        hit = await receiver.wait_event(EVENT, request_id(started))
        assert hit.signature_ok, hit.headers  # signed with the secret shown at creation

        # Only an ADMIN of the org may rotate; the others learn nothing.
        user = await as_user(http, "rita@acme.test")
        refused = await http.post(f"{HOOKS}/{hook['id']}/rotate-secret", headers=user)
        assert refused.status_code == 403
        other = await login(http, "admin@globex.test")
        hidden = await http.post(f"{HOOKS}/{hook['id']}/rotate-secret", headers=other)
        assert hidden.status_code == 404 and first_secret not in hidden.text

        rotated = await http.post(f"{HOOKS}/{hook['id']}/rotate-secret", headers=admin)
        assert rotated.status_code == 200, rotated.text
        second_secret = rotated.json()["secret"]
        assert second_secret and second_secret != first_secret
        again = await http.get(f"{HOOKS}/{hook['id']}", headers=admin)
        assert again.json()["secret"] is None and second_secret not in again.text

        receiver.secret = second_secret
        started = await start_purchase(http, await as_user(http, "rita@acme.test"))
        hit = await receiver.wait_event(EVENT, request_id(started))
        assert hit.signature_ok, hit.headers
        timestamp = hit.headers["x-signoff-timestamp"]
        old_signature = expected_signature(first_secret, timestamp, hit.body)
        assert hit.headers["x-signoff-signature"] != old_signature  # the old one stopped

        events = security_events(engine, f"webhook:{hook['id']}")
        assert [(e.kind, e.actor, e.detail["action"]) for e in events] == [
            ("secret_changed", "acme-admin", "created"),
            ("secret_changed", "acme-admin", "rotated"),
        ]
        logs = stack_logs(stack)
        assert first_secret not in logs and second_secret not in logs
    finally:
        await hooks.delete_all(http, admin)
