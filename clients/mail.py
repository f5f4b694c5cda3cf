"""Sending e-mail: an SMTP relay through aiosmtplib, or an outbox folder of .eml files."""

from __future__ import annotations

import asyncio
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from config.settings import Settings


class Mailer(Protocol):
    """Something that sends e-mails."""

    async def send(self, message: EmailMessage) -> None:
        """Send one message (raise to have the activity retry)."""


class SmtpMailer:
    """An SMTP relay with STARTTLS or implicit TLS and optional credentials, from settings."""

    def __init__(self, settings: Settings) -> None:
        """Keep the connection settings."""
        assert settings.smtp_host
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        """Deliver through the relay."""
        s = self.settings
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls,
            start_tls=False if s.smtp_tls else (s.smtp_starttls or None),
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=30,
        )


class OutboxMailer:
    """The embedded default: each e-mail as a .eml file, for a developer to open."""

    def __init__(self, folder: Path) -> None:
        """Write into this folder."""
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        """Write the message, named after its Message-ID (a resend overwrites it)."""
        name = re.sub(r"[^A-Za-z0-9.@-]", "_", str(message["Message-ID"]).strip("<>"))
        path = self.folder / f"{name}.eml"
        await asyncio.to_thread(self._write, path, message.as_bytes())

    def _write(self, path: Path, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        partial.replace(path)


def make_mailer(settings: Settings) -> Mailer:
    """SMTP when a relay is configured, else the outbox folder."""
    if settings.smtp_host:
        return SmtpMailer(settings)
    return OutboxMailer(settings.resolved_outbox_dir())
