"""Rotation on every configured backend: plaintext and old-key rows (mailboxes, webhooks, ERP
connections) end under the current key, a second run rewrites nothing, a value no key opens is
left as it was, and one event says so."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Session, col, select

from store.async_db import make_async_engine
from store.db import transaction
from store.erp_tables import ErpConnection
from store.invoice_tables import Mailbox
from store.secret_box import SecretBox, new_key_text, parse_key_ring
from store.secret_columns import SecretColumn
from store.secret_rotation import RotationCount, rotate_secrets
from store.security_events import SecurityEvent
from store.tables import Webhook

OLD, NEW, STRANGER = new_key_text("old"), new_key_text("new"), new_key_text("stranger")


def _box(*entries: str) -> SecretBox:
    return SecretBox(parse_key_ring(",".join(entries)))


@pytest.fixture
async def async_engine(any_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An asyncio engine on each backend, as the command makes one."""
    engine = make_async_engine(any_database_url)
    yield engine
    await engine.dispose()


def _mailbox(mailbox_id: str, secret: str) -> Mailbox:
    now = datetime.now(UTC)
    return Mailbox(
        id=mailbox_id,
        org_id="rotation-test",
        name=mailbox_id,
        host="imap.example.test",
        port=993,
        username="ap@example.test",
        secret=secret,
        poll_seconds=60,
        rules={},
        active=False,
        created_at=now,
        updated_at=now,
    )


def _webhook(webhook_id: str, secret: str) -> Webhook:
    now = datetime.now(UTC)
    return Webhook(
        id=webhook_id,
        org_id="rotation-test",
        url="https://hooks.example.test/x",
        event_types=["*"],
        active=False,
        secret=secret,
        created_by="tester",
        created_at=now,
        updated_at=now,
    )


def _stored(engine: Engine, ids: list[str]) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.exec(select(Mailbox.id, Mailbox.secret).where(col(Mailbox.id).in_(ids)))
        hooks = session.exec(select(Webhook.id, Webhook.secret).where(col(Webhook.id).in_(ids)))
        return dict(rows.all()) | dict(hooks.all())


def _by_column(counts: list[RotationCount]) -> dict[str, RotationCount]:
    return {f"{c.table}.{c.column}": c for c in counts}


async def test_every_secret_ends_under_the_current_key_and_a_rerun_changes_nothing(
    any_engine: Engine, async_engine: AsyncEngine
) -> None:
    run = uuid.uuid4().hex[:8]
    old = _box(OLD)
    plain = {f"mbx-plain-{run}-{n}": f"legacy-password-{run}-{n}" for n in range(3)}
    sealed = {f"mbx-old-{run}-{n}": f"old-key-password-{run}-{n}" for n in range(2)}
    hooks = {f"whk-old-{run}": f"hook-secret-{run}", f"whk-plain-{run}": f"hook-plain-{run}"}
    with transaction(any_engine) as session:
        for mailbox_id, secret in plain.items():
            session.add(_mailbox(mailbox_id, secret))
        for mailbox_id, secret in sealed.items():
            session.add(
                _mailbox(mailbox_id, old.encrypt(secret, context=f"mailboxes.secret:{mailbox_id}"))
            )
        session.add(
            _webhook(
                f"whk-old-{run}",
                old.encrypt(hooks[f"whk-old-{run}"], context=f"webhooks.secret:whk-old-{run}"),
            )
        )
        session.add(_webhook(f"whk-plain-{run}", hooks[f"whk-plain-{run}"]))
    expected = plain | sealed | hooks

    ring = _box(NEW, OLD)
    first = _by_column(await rotate_secrets(async_engine, ring, actor="cli:test", batch_size=2))
    # Other tests' rows share the tables: these rows are at least what was rewritten.
    assert first["mailboxes.secret"].rewritten >= 5 and first["webhooks.secret"].rewritten >= 2
    assert first["mailboxes.secret"].undecryptable == first["webhooks.secret"].undecryptable == 0

    stored = _stored(any_engine, list(expected))
    only_new = _box(NEW)  # the old key is dropped now: everything must open without it
    for row_id, secret in expected.items():
        assert stored[row_id].startswith("enc:v1:new:"), row_id
        assert secret not in stored[row_id]
        prefix = "webhooks.secret" if row_id.startswith("whk-") else "mailboxes.secret"
        assert only_new.decrypt(stored[row_id], context=f"{prefix}:{row_id}") == secret

    second = _by_column(await rotate_secrets(async_engine, ring, actor="cli:test", batch_size=2))
    assert second["mailboxes.secret"].rewritten == second["webhooks.secret"].rewritten == 0
    assert second["mailboxes.secret"].current >= 5 and second["webhooks.secret"].current >= 2
    assert _stored(any_engine, list(expected)) == stored  # not even a fresh nonce

    with Session(any_engine) as session:
        events = session.exec(
            select(SecurityEvent)
            .where(col(SecurityEvent.kind) == "secrets_rotated")
            .order_by(col(SecurityEvent.id).desc())
            .limit(2)
        ).all()
    assert [e.subject for e in events] == ["key:new", "key:new"]
    assert events[0].actor == "cli:test" and events[0].org_id is None
    counted = {c["table"]: c for c in events[1].detail["columns"]}
    assert counted["mailboxes"]["rewritten"] == first["mailboxes.secret"].rewritten
    text = json.dumps([e.detail for e in events])
    assert not any(secret in text for secret in expected.values())

    with transaction(any_engine) as session:
        session.exec(delete(Mailbox).where(col(Mailbox.id).in_(list(expected))))
        session.exec(delete(Webhook).where(col(Webhook.id).in_(list(expected))))


async def test_an_erp_connection_secret_is_rewritten_under_the_new_key_and_still_decrypts(
    any_engine: Engine, async_engine: AsyncEngine
) -> None:
    run = uuid.uuid4().hex[:8]
    # The table is keyed by org: each of these rows is an org of this run's own.
    secrets = {f"erp-old-{run}": f"erp-old-password-{run}", f"erp-plain-{run}": f"erp-{run}"}
    old_id, plain_id = secrets
    now = datetime.now(UTC)

    def connection(org_id: str, secret: str) -> ErpConnection:
        return ErpConnection(
            org_id=org_id,
            adapter="sap",
            base_url="https://erp.example.test/",
            username="signoff",
            secret=secret,
            updated_by="tester",
            updated_at=now,
        )

    sealed = _box(OLD).encrypt(secrets[old_id], context=f"erp_connections.secret:{old_id}")
    with transaction(any_engine) as session:
        session.add(connection(old_id, sealed))
        session.add(connection(plain_id, secrets[plain_id]))
    try:
        counts = _by_column(await rotate_secrets(async_engine, _box(NEW, OLD), actor="cli:test"))
        assert counts["erp_connections.secret"].rewritten >= 2
        assert counts["erp_connections.secret"].undecryptable == 0
        with Session(any_engine) as session:
            stored = dict(
                session.exec(
                    select(ErpConnection.org_id, ErpConnection.secret).where(
                        col(ErpConnection.org_id).in_(list(secrets))
                    )
                ).all()
            )
        only_new = _box(NEW)
        for org_id, secret in secrets.items():
            assert stored[org_id].startswith("enc:v1:new:") and secret not in stored[org_id]
            context = f"erp_connections.secret:{org_id}"
            assert only_new.decrypt(stored[org_id], context=context) == secret
    finally:
        with transaction(any_engine) as session:
            session.exec(delete(ErpConnection).where(col(ErpConnection.org_id).in_(list(secrets))))


async def test_a_secret_no_key_opens_is_counted_and_left_as_it_was(
    any_engine: Engine, async_engine: AsyncEngine
) -> None:
    run = uuid.uuid4().hex[:8]
    lost_id, moved_id = f"mbx-lost-{run}", f"mbx-moved-{run}"
    lost = _box(STRANGER).encrypt("unrecoverable", context=f"mailboxes.secret:{lost_id}")
    # Copied from another row: the context no longer matches, even though the key is known.
    moved = _box(OLD).encrypt("elsewhere", context="mailboxes.secret:somewhere-else")
    with transaction(any_engine) as session:
        session.add(_mailbox(lost_id, lost))
        session.add(_mailbox(moved_id, moved))
    try:
        counts = _by_column(await rotate_secrets(async_engine, _box(NEW, OLD), actor="cli:test"))
        assert counts["mailboxes.secret"].undecryptable == 2
        assert _stored(any_engine, [lost_id, moved_id]) == {lost_id: lost, moved_id: moved}
    finally:
        with transaction(any_engine) as session:
            session.exec(delete(Mailbox).where(col(Mailbox.id).in_([lost_id, moved_id])))


async def test_a_column_the_database_does_not_have_is_reported_missing(
    async_engine: AsyncEngine,
) -> None:
    columns = (SecretColumn("no_such_table", "id", "secret"),)
    [count] = await rotate_secrets(async_engine, _box(NEW), actor="cli:test", columns=columns)
    assert count.missing and count.rewritten == 0
