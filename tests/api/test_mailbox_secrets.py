"""A mailbox's IMAP secret at rest on the real stack: sealed in SQL, never shown after creation,
never in a workflow's history or a log line, and the worker still logs in with it."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from typing import Any

import httpx
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from clients.mailbox_schedules import schedule_id
from store.invoice_tables import Mailbox
from store.secret_box import SecretBox, parse_key_ring
from tests.api.conftest import ENCRYPTION_KEYS, Stack, as_user
from tests.api.http_polling import get_until
from tests.api.imap_server import Dovecot
from tests.api.secret_fixtures import (
    ADMIN,
    IMAP_PASSWORD,
    V1,
    folder_with_one_mail,
    security_events,
    stack_logs,
    stored_secret,
)

pytest_plugins = ["tests.api.secret_fixtures"]


def _history_text(history_json: str) -> str:
    """A history's JSON with every payload's data decoded, so a secret cannot hide in base64."""
    decoded: list[str] = [history_json]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    with contextlib.suppress(binascii.Error, ValueError):
                        decoded.append(base64.b64decode(value).decode(errors="replace"))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(history_json))
    return "\n".join(decoded)


async def _last_pass_history(client: Client, mailbox_id: str) -> str:
    """The decoded history of the mailbox's latest MailboxPollerWorkflow pass, once it ended."""
    for _ in range(300):
        described = await client.get_schedule_handle(schedule_id(mailbox_id)).describe()
        if described.info.recent_actions:
            action = described.info.recent_actions[-1].action
            handle = client.get_workflow_handle(action.workflow_id)  # type: ignore[attr-defined]
            await handle.result()
            return _history_text((await handle.fetch_history()).to_json())
        await asyncio.sleep(0.1)
    raise AssertionError(f"no pass of {mailbox_id} was started")


async def test_a_mailbox_secret_is_sealed_never_shown_and_still_logs_in(
    http: httpx.AsyncClient,
    stack: Stack,
    engine: Engine,
    dev_env: WorkflowEnvironment,
    vault: Dovecot,
) -> None:
    admin = await as_user(http, ADMIN)
    body = {
        "name": "Vault AP",
        "host": vault.host,
        "port": vault.port,
        "tls": False,
        "username": vault.username,
        "secret": IMAP_PASSWORD,
        "folder": folder_with_one_mail(vault),
        "poll_seconds": 3600,
    }
    created = await http.post(f"{V1}/mailboxes", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert IMAP_PASSWORD not in created.text and created.json()["has_secret"] is True
    mailbox_id = created.json()["id"]

    # In SQL: sealed under the ring's current key, bound to this row.
    sealed = stored_secret(engine, Mailbox, mailbox_id)
    assert sealed.startswith("enc:v1:test:") and IMAP_PASSWORD not in sealed
    ring = SecretBox(parse_key_ring(ENCRYPTION_KEYS))
    assert ring.decrypt(sealed, context=f"mailboxes.secret:{mailbox_id}") == IMAP_PASSWORD

    # Over the API: neither the secret nor its sealed form, ever.
    for url in (f"{V1}/mailboxes/{mailbox_id}", f"{V1}/mailboxes?limit=200"):
        shown = await http.get(url, headers=admin)
        assert shown.status_code == 200, shown.text
        assert IMAP_PASSWORD not in shown.text and "enc:v1:" not in shown.text

    # Setting it again seals it afresh and is recorded, like the first time.
    changed = await http.patch(
        f"{V1}/mailboxes/{mailbox_id}", json={"secret": IMAP_PASSWORD}, headers=admin
    )
    assert changed.status_code == 200 and IMAP_PASSWORD not in changed.text
    resealed = stored_secret(engine, Mailbox, mailbox_id)
    assert resealed != sealed and resealed.startswith("enc:v1:test:")
    events = security_events(engine, f"mailbox:{mailbox_id}")
    assert [(e.kind, e.actor, e.ip, e.detail["action"]) for e in events] == [
        ("secret_changed", "acme-admin", "127.0.0.1", "set"),
        ("secret_changed", "acme-admin", "127.0.0.1", "changed"),
    ]
    assert all(e.org_id == "acme" for e in events)
    assert IMAP_PASSWORD not in json.dumps([e.detail for e in events])

    # The worker opens it by the mailbox's id and logs in to the real server.
    polled = await http.post(f"{V1}/mailboxes/{mailbox_id}/poll", headers=admin)
    assert polled.status_code == 202, polled.text
    log = await get_until(
        http, f"{V1}/intake-log?mailbox_id={mailbox_id}", admin, lambda p: p["total"] == 1
    )
    assert log["items"][0]["outcome"] == "rejected"  # read: the login worked
    mailbox = (await http.get(f"{V1}/mailboxes/{mailbox_id}", headers=admin)).json()
    assert mailbox["last_error"] is None and mailbox["last_polled_at"] is not None

    history = await _last_pass_history(dev_env.client, mailbox_id)
    assert mailbox_id in history  # the decoding works: the input is there, by id
    assert IMAP_PASSWORD not in history and "enc:v1:" not in history
    assert IMAP_PASSWORD not in stack_logs(stack)

    deleted = await http.delete(f"{V1}/mailboxes/{mailbox_id}", headers=admin)
    assert deleted.status_code == 204
