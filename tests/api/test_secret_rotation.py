"""`signoff secrets rotate` on a database of its own, so re-keying never touches the shared
stack's rows: old-key and plaintext rows move to the current key, and a stack that knows only
the new key still logs in to the mailboxes and signs the webhooks."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from devstack.temporal import installed_binary
from store.db import make_engine, transaction
from store.invoice_tables import Mailbox
from store.migrate import upgrade
from store.secret_box import SecretBox, new_key_text, parse_key_ring
from store.security_events import SecurityEvent
from store.tables import User, Webhook
from tests.api.conftest import login, seed_orgs, stack_env, start_purchase, start_stack
from tests.api.http_polling import get_until
from tests.api.imap_server import Dovecot
from tests.api.secret_fixtures import (
    ADMIN,
    EVENT,
    IMAP_PASSWORD,
    V1,
    folder_with_one_mail,
    request_id,
    stack_logs,
)
from tests.api.webhook_receiver import Receiver
from tests.conftest import PG_URL, _drop_postgres_database, _fresh_postgres_database

pytest_plugins = ["tests.api.secret_fixtures"]


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
            folder=folder_with_one_mail(vault),
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
                hit = await receiver.wait_event(EVENT, request_id(started))
                assert hit.signature_ok, hit.headers
    finally:
        await asyncio.to_thread(stack.stop)
    logs = stack_logs(stack)
    assert not any(secret in logs for secret in secrets)
