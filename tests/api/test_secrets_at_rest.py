"""Secrets at rest on the real stack: mailbox and webhook secrets are sealed in SQL, never shown
after creation, never in a workflow's history or a log line, and still work; `signoff secrets
rotate` moves old-key and plaintext rows to the current key while everything keeps working."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from clients.mailbox_schedules import schedule_id
from devstack.temporal import installed_binary
from store.db import make_engine, transaction
from store.invoice_tables import Mailbox
from store.migrate import upgrade
from store.secret_box import SecretBox, new_key_text, parse_key_ring
from store.security_events import SecurityEvent
from store.tables import User, Webhook
from tests.api.conftest import (
    ENCRYPTION_KEYS,
    Stack,
    as_user,
    login,
    seed_orgs,
    stack_env,
    start_purchase,
    start_stack,
)
from tests.api.http_polling import get_until
from tests.api.imap_server import Dovecot, start_dovecot
from tests.api.webhook_receiver import HOOKS, Hooks, Receiver, expected_signature
from tests.conftest import PG_URL, _drop_postgres_database, _fresh_postgres_database
from tests.intake.mails import invoice_mail

V1 = "/api/v1"
ADMIN = "admin@acme.test"
# Distinctive, so finding it anywhere (a log, a history) cannot be a coincidence.
IMAP_PASSWORD = f"Imap-Vault-{uuid.uuid4().hex}"
EVENT = "request.level_started"


@pytest.fixture(scope="module")
def vault() -> Iterator[Dovecot]:
    """A dovecot of this module's own whose one login has a distinctive password."""
    folder = Path(tempfile.mkdtemp(prefix="signoff-vault-"))
    server = start_dovecot(folder, password=IMAP_PASSWORD)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def receivers() -> Iterator[Callable[[], Receiver]]:
    """Webhook receivers on demand, stopped after the test."""
    started: list[Receiver] = []

    def make() -> Receiver:
        started.append(Receiver().start())
        return started[-1]

    yield make
    for receiver in started:
        receiver.stop()


def _folder_with_one_mail(dovecot: Dovecot) -> str:
    """A fresh IMAP folder holding one mail that is no invoice (the poller logs it rejected)."""
    folder = f"vault-{uuid.uuid4().hex[:8]}"
    imap = dovecot.connect()
    try:
        imap.create_folder(folder)
        imap.append(folder, invoice_mail(sender="someone@example.test", attachments=[]))
    finally:
        imap.logout()
    return folder


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


def _request_id(started: dict[str, Any]) -> str:
    """The id of a request from the answer that started it."""
    return str(started["request"]["request_id"])


def _stored_secret(engine: Engine, model: type[Mailbox] | type[Webhook], row_id: str) -> str:
    with Session(engine) as session:
        stored = session.exec(select(model.secret).where(model.id == row_id)).one()
        return str(stored)


def _security_events(engine: Engine, subject: str) -> list[SecurityEvent]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(SecurityEvent)
                .where(col(SecurityEvent.subject) == subject)
                .order_by(col(SecurityEvent.id))
            )
        )


def _logs(stack: Stack) -> str:
    """What the stack's API and worker wrote to their logs."""
    folder = stack.api_log.parent
    return "".join(p.read_text(errors="replace") for p in (stack.api_log, folder / "worker.log"))


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
        "folder": _folder_with_one_mail(vault),
        "poll_seconds": 3600,
    }
    created = await http.post(f"{V1}/mailboxes", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert IMAP_PASSWORD not in created.text and created.json()["has_secret"] is True
    mailbox_id = created.json()["id"]

    # In SQL: sealed under the ring's current key, bound to this row.
    sealed = _stored_secret(engine, Mailbox, mailbox_id)
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
    resealed = _stored_secret(engine, Mailbox, mailbox_id)
    assert resealed != sealed and resealed.startswith("enc:v1:test:")
    events = _security_events(engine, f"mailbox:{mailbox_id}")
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
    assert IMAP_PASSWORD not in _logs(stack)

    deleted = await http.delete(f"{V1}/mailboxes/{mailbox_id}", headers=admin)
    assert deleted.status_code == 204


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
        sealed = _stored_secret(engine, Webhook, hook["id"])
        assert sealed.startswith("enc:v1:test:") and first_secret not in sealed
        for url in (f"{HOOKS}/{hook['id']}", f"{HOOKS}?limit=200"):
            shown = await http.get(url, headers=admin)
            assert shown.status_code == 200 and first_secret not in shown.text
            assert "enc:v1:" not in shown.text

        started = await start_purchase(http, await as_user(http, "rita@acme.test"))
        hit = await receiver.wait_event(EVENT, _request_id(started))
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
        hit = await receiver.wait_event(EVENT, _request_id(started))
        assert hit.signature_ok, hit.headers
        timestamp = hit.headers["x-signoff-timestamp"]
        old_signature = expected_signature(first_secret, timestamp, hit.body)
        assert hit.headers["x-signoff-signature"] != old_signature  # the old one stopped

        events = _security_events(engine, f"webhook:{hook['id']}")
        assert [(e.kind, e.actor, e.detail["action"]) for e in events] == [
            ("secret_changed", "acme-admin", "created"),
            ("secret_changed", "acme-admin", "rotated"),
        ]
        logs = _logs(stack)
        assert first_secret not in logs and second_secret not in logs
    finally:
        await hooks.delete_all(http, admin)


# --- rotation: a database of its own, so re-keying never touches the shared stack's rows ---


@pytest.fixture(scope="module")
def rotation_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database with the demo orgs, for the rotation test alone."""
    if PG_URL:
        url = _fresh_postgres_database(PG_URL)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('rotation') / 'signoff.db'}"
    upgrade(url)
    engine = make_engine(url)
    seed_orgs(engine)
    engine.dispose()
    yield url
    if PG_URL:
        _drop_postgres_database(url)


def _rotate(url: str, ring: str, folder: Path) -> subprocess.CompletedProcess[str]:
    signoff = installed_binary("signoff")
    assert signoff
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    environment |= {
        "SIGNOFF_DATABASE_URL": url,
        "SIGNOFF_ENCRYPTION_KEYS": ring,
        "SIGNOFF_DATA_DIR": str(folder),
    }
    return subprocess.run(
        [signoff, "secrets", "rotate", "--batch-size", "1"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_rotation_moves_old_key_and_plaintext_rows_to_the_new_key_and_all_still_works(
    dev_env: WorkflowEnvironment,
    rotation_database: str,
    vault: Dovecot,
    receivers: Callable[[], Receiver],
    tmp_path: Path,
) -> None:
    old_key, new_key = new_key_text("old"), new_key_text("new")
    old = SecretBox(parse_key_ring(old_key))
    sealed_hook, plain_hook = receivers(), receivers()
    sealed_hook.secret, plain_hook.secret = f"hook-old-{uuid.uuid4().hex}", "hook-plain-legacy"
    totp = "JBSWY3DPEHPK3PXPLEGACYTOTPSECRET"
    now = datetime.now(UTC)
    engine = make_engine(rotation_database)

    def mailbox(mailbox_id: str, secret: str) -> Mailbox:
        return Mailbox(
            id=mailbox_id,
            org_id="acme",
            name=mailbox_id,
            host=vault.host,
            port=vault.port,
            tls=False,
            username=vault.username,
            secret=secret,
            folder=_folder_with_one_mail(vault),
            poll_seconds=3600,
            rules={},
            created_at=now,
            updated_at=now,
        )

    def webhook(webhook_id: str, receiver: Receiver, secret: str) -> Webhook:
        return Webhook(
            id=webhook_id,
            org_id="acme",
            url=receiver.url,
            event_types=[EVENT],
            secret=secret,
            created_by="acme-admin",
            created_at=now,
            updated_at=now,
        )

    # What an older Signoff left: one mailbox and webhook under the old key, one of each plain.
    with transaction(engine) as session:
        session.add(
            mailbox(
                "mbx-sealed",
                old.encrypt(IMAP_PASSWORD, context="mailboxes.secret:mbx-sealed"),
            )
        )
        session.add(mailbox("mbx-plain", IMAP_PASSWORD))
        session.add(
            webhook(
                "whk-sealed",
                sealed_hook,
                old.encrypt(sealed_hook.secret, context="webhooks.secret:whk-sealed"),
            )
        )
        session.add(webhook("whk-plain", plain_hook, plain_hook.secret))
        user = session.get(User, "acme-alice")
        assert user is not None
        user.totp_secret = totp
        user.totp_pending_secret = f"{totp}PENDING"
        session.add(user)
    secrets = [IMAP_PASSWORD, sealed_hook.secret, plain_hook.secret, totp]  # pending holds totp

    # Steps 1-3: the new key is prepended to the ring, then every secret is re-encrypted.
    ring = f"{new_key},{old_key}"
    first = await asyncio.to_thread(_rotate, rotation_database, ring, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "mailboxes.secret: 2 re-encrypted, 0 already current" in first.stdout
    assert "webhooks.secret: 2 re-encrypted, 0 already current" in first.stdout
    assert "users.totp_secret: 1 re-encrypted, 0 already current" in first.stdout
    assert "users.totp_pending_secret: 1 re-encrypted, 0 already current" in first.stdout
    again = await asyncio.to_thread(_rotate, rotation_database, ring, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "mailboxes.secret: 0 re-encrypted, 2 already current" in again.stdout
    assert "webhooks.secret: 0 re-encrypted, 2 already current" in again.stdout
    output = first.stdout + first.stderr + again.stdout + again.stderr
    assert not any(secret in output for secret in secrets)

    only_new = SecretBox(parse_key_ring(new_key))
    with Session(engine) as session:
        stored = {
            **dict(session.exec(select(Mailbox.id, Mailbox.secret)).all()),
            **dict(session.exec(select(Webhook.id, Webhook.secret)).all()),
        }
        alice = session.get(User, "acme-alice")
        rotations = session.exec(
            select(SecurityEvent).where(col(SecurityEvent.kind) == "secrets_rotated")
        ).all()
    assert alice is not None and alice.totp_secret is not None
    assert only_new.decrypt(alice.totp_secret, context="users.totp_secret:acme-alice") == totp
    assert alice.totp_pending_secret is not None
    pending = only_new.decrypt(
        alice.totp_pending_secret, context="users.totp_pending_secret:acme-alice"
    )
    assert pending == f"{totp}PENDING"
    assert all(value.startswith("enc:v1:new:") for value in stored.values()), stored
    assert [e.subject for e in rotations] == ["key:new", "key:new"]
    engine.dispose()

    # Step 4: the old key is dropped; a stack that knows only the new one does everything.
    folder = tmp_path / "stack"
    folder.mkdir()
    env = stack_env(dev_env, rotation_database, folder, SIGNOFF_ENCRYPTION_KEYS=new_key)
    stack = await asyncio.to_thread(start_stack, env, folder)
    try:
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
            admin = await login(http, ADMIN)
            for mailbox_id in ("mbx-sealed", "mbx-plain"):
                polled = await http.post(f"{V1}/mailboxes/{mailbox_id}/poll", headers=admin)
                assert polled.status_code == 202, polled.text
                await get_until(
                    http,
                    f"{V1}/intake-log?mailbox_id={mailbox_id}",
                    admin,
                    lambda page: page["total"] == 1,
                )
                shown = (await http.get(f"{V1}/mailboxes/{mailbox_id}", headers=admin)).json()
                assert shown["last_error"] is None, shown
            started = await start_purchase(http, await login(http, "rita@acme.test"))
            for receiver in (sealed_hook, plain_hook):
                hit = await receiver.wait_event(EVENT, _request_id(started))
                assert hit.signature_ok, hit.headers
    finally:
        await asyncio.to_thread(stack.stop)
    logs = _logs(stack)
    assert not any(secret in logs for secret in secrets)
