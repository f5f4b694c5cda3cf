"""A real SMTP server (aiosmtpd) that keeps every message it receives, for tests to read."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from threading import Lock
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from tests.api.conftest import free_port


@dataclass
class Catcher:
    """The messages received so far, and how to wait for one."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    lock: Lock = field(default_factory=Lock)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802
        """aiosmtpd's hook: keep the message."""
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def wait_for(self, *, to: str, subject_contains: str = "", seconds: float = 30) -> EmailMessage:
        """The first message to `to` whose subject contains the text, waiting for it."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if to.lower() in str(message["To"]).lower() and subject_contains in str(
                        message["Subject"]
                    ):
                        return message
            time.sleep(0.1)
        with self.lock:
            seen = [(str(m["To"]), str(m["Subject"])) for m in self.messages]
        raise AssertionError(f"no e-mail to {to} about {subject_contains!r}; got {seen}")

    def to(self, address: str) -> list[EmailMessage]:
        """Every message so far to this address."""
        with self.lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]


@pytest.fixture(scope="session")
def smtp_catcher() -> Iterator[Catcher]:
    """An SMTP server on a free loopback port for the whole session."""
    catcher = Catcher(host="127.0.0.1", port=free_port())
    controller = Controller(catcher, hostname=catcher.host, port=catcher.port)
    controller.start()
    yield catcher
    controller.stop()


def smtp_env(catcher: Catcher) -> dict[str, str]:
    """SIGNOFF_* settings that send mail to the catcher."""
    return {
        "SIGNOFF_SMTP_HOST": catcher.host,
        "SIGNOFF_SMTP_PORT": str(catcher.port),
        "SIGNOFF_SMTP_STARTTLS": "false",
        "SIGNOFF_MAIL_FROM": "Signoff <signoff@signoff.test>",
    }
