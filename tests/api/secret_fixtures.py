"""Shared by the secrets-at-rest tests (mailbox, webhook and rotation): a dovecot whose one
login has a distinctive password, webhook receivers on demand, and reading back what SQL, the
security log and the stack's logs hold.

Test modules load it with `pytest_plugins = ["tests.api.secret_fixtures"]` after importing its
constants and functions.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from store.invoice_tables import Mailbox
from store.security_events import SecurityEvent
from store.tables import Webhook
from tests.api.conftest import Stack
from tests.api.imap_server import Dovecot, start_dovecot
from tests.api.webhook_receiver import Receiver
from tests.intake.mails import invoice_mail

V1 = "/api/v1"
ADMIN = "admin@acme.test"
# Distinctive, so finding it anywhere (a log, a history) cannot be a coincidence.
IMAP_PASSWORD = f"Imap-Vault-{uuid.uuid4().hex}"
EVENT = "request.level_started"


@pytest.fixture(scope="module")
def vault() -> Iterator[Dovecot]:
    """A dovecot of the test module's own whose one login has a distinctive password."""
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


def folder_with_one_mail(dovecot: Dovecot) -> str:
    """A fresh IMAP folder holding one mail that is no invoice (the poller logs it rejected)."""
    folder = f"vault-{uuid.uuid4().hex[:8]}"
    imap = dovecot.connect()
    try:
        imap.create_folder(folder)
        imap.append(folder, invoice_mail(sender="someone@example.test", attachments=[]))
    finally:
        imap.logout()
    return folder


def request_id(started: dict[str, Any]) -> str:
    """The id of a request from the answer that started it."""
    return str(started["request"]["request_id"])


def stored_secret(engine: Engine, model: type[Mailbox] | type[Webhook], row_id: str) -> str:
    """The secret column of one mailbox or webhook row, as SQL holds it."""
    with Session(engine) as session:
        stored = session.exec(select(model.secret).where(model.id == row_id)).one()
        return str(stored)


def security_events(engine: Engine, subject: str) -> list[SecurityEvent]:
    """The security events recorded about a subject, oldest first."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(SecurityEvent)
                .where(col(SecurityEvent.subject) == subject)
                .order_by(col(SecurityEvent.id))
            )
        )


def stack_logs(stack: Stack) -> str:
    """What the stack's API and worker wrote to their logs."""
    folder = stack.api_log.parent
    return "".join(p.read_text(errors="replace") for p in (stack.api_log, folder / "worker.log"))
