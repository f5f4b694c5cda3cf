"""A real IMAP server (Debian's dovecot) for the reply-by-mail tests, and a gate in front of it.

Import the fixture into a test module: `from tests.api.imap_server import dovecot`. The gate is a
TCP proxy the worker talks through, so a test can hold or cut the connection at one command.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Literal

import pytest
from imapclient import IMAPClient

from tests.api.conftest import free_port

USERNAME = "approvals@example.test"
PASSWORD = "secret"
HANDLED = b"$SignoffHandled"

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
{unprivileged}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%u
}}
service imap-login {{
{login_chroot}
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
}}
"""


@dataclass
class Dovecot:
    """A running dovecot with one mailbox, and what tests do with it."""

    host: str
    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    username: str = USERNAME
    password: str = PASSWORD

    def connect(self) -> IMAPClient:
        """A logged-in client with INBOX selected; log it out when done."""
        imap = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        imap.login(self.username, self.password)
        imap.select_folder("INBOX")
        return imap

    def deliver(self, raw: bytes) -> int:
        """Put a mail into INBOX as the mail server would; its UID."""
        imap = self.connect()
        try:
            answer = imap.append("INBOX", raw)
        finally:
            imap.logout()
        found = re.search(rb"APPENDUID \d+ (\d+)", answer)
        assert found, answer
        return int(found.group(1))

    def flags(self, uid: int) -> set[bytes]:
        """The flags and keywords of one mail."""
        imap = self.connect()
        try:
            return set(imap.get_flags([uid]).get(uid, ()))
        finally:
            imap.logout()

    def handled(self, uid: int) -> bool:
        """Whether Signoff flagged the mail handled (and seen)."""
        return {HANDLED, b"\\Seen"} <= self.flags(uid)

    def unhandled(self) -> list[int]:
        """UIDs of the mails Signoff has not flagged handled yet."""
        imap = self.connect()
        try:
            return [int(uid) for uid in imap.search(["NOT", "KEYWORD", HANDLED.decode()])]
        finally:
            imap.logout()

    def mark_all_handled(self) -> None:
        """Flag every mail handled, so what one test left behind is not read by the next."""
        imap = self.connect()
        try:
            uids = imap.search(["NOT", "KEYWORD", HANDLED.decode()])
            if uids:
                imap.add_flags(uids, [HANDLED, b"\\Seen"])
        finally:
            imap.logout()

    def log(self) -> str:
        """dovecot's own log."""
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM the master process (it stops its children), then wait."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def reply_mail(
    original: EmailMessage,
    first_line: str,
    *,
    sender: str,
    to: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[bytes, str]:
    """A reply as a mail client writes it (the original quoted below) and its Message-ID."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to or str(original["Reply-To"])
    message["Subject"] = f"Re: {original['Subject']}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="mail.acme.test")
    message["In-Reply-To"] = str(original["Message-ID"])
    for name, value in (headers or {}).items():
        message[name] = value
    body = original.get_body(preferencelist=("plain",))
    assert body is not None
    quoted = "\n".join(f"> {line}".rstrip() for line in body.get_content().splitlines())
    intro = f"On {original['Date']}, {original['From']} wrote:"
    message.set_content(f"{first_line}\n\n{intro}\n{quoted}\n")
    return bytes(message), str(message["Message-ID"])


def dovecot_binary() -> str | None:
    """The dovecot binary, or None when the Debian package is not installed."""
    return shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot",) if os.access(p, os.X_OK)), None
    )


def start_dovecot(folder: Path, password: str = PASSWORD) -> Dovecot:
    """dovecot on a free loopback port, serving one plain-text login, mail kept in `folder`."""
    binary = dovecot_binary()
    if binary is None:
        pytest.skip("dovecot is not installed (Debian dovecot-imapd; .ci/run installs it)")
    for sub in ("run", "state", "mail"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    # dovecot's auth process (user dovecot) reads the users file and the mail process (nobody)
    # writes the maildir: both must get into the folder, which mkdtemp made private (0700).
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder / "mail", "nobody", "nogroup")
        uid, gid, unprivileged, login_chroot = "nobody", "nogroup", "", ""
    else:  # everything runs as the current user, without the chroots only root may make
        me, group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
        uid, gid, login_chroot = str(os.geteuid()), str(os.getegid()), "  chroot ="
        unprivileged = (
            f"default_internal_user = {me}\ndefault_login_user = {me}\n"
            f"default_internal_group = {group}\nservice anvil {{\n  chroot =\n}}\n"
        )
    (folder / "users").write_text(f"{USERNAME}:{{PLAIN}}{password}\n")
    port = free_port()
    config = folder / "dovecot.conf"
    config.write_text(
        _CONFIG.format(
            d=folder,
            port=port,
            uid=uid,
            gid=gid,
            unprivileged=unprivileged,
            login_chroot=login_chroot,
        )
    )
    with (folder / "stdout.log").open("ab") as output:
        process = subprocess.Popen(
            [binary, "-F", "-c", str(config)], stdout=output, stderr=subprocess.STDOUT
        )
    server = Dovecot("127.0.0.1", port, folder, process, password=password)
    deadline = time.monotonic() + 30
    while True:
        try:
            server.connect().logout()
            return server
        except Exception as error:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise AssertionError(
                    f"dovecot did not come up ({error}):\n{server.log()[-3000:]}"
                ) from error
            time.sleep(0.2)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One dovecot for the session: INBOX of approvals@example.test, password "secret"."""
    folder = Path(tempfile.mkdtemp(prefix="signoff-dovecot-"))
    server = start_dovecot(folder)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


Rule = Literal["hold", "cut"]


class ImapGate:
    """A TCP proxy to an IMAP server that can stop the client at one command.

    `hold_at(b"+FLAGS")`: the next client data containing it waits until `open()`;
    `cut_at(...)`: the connection is dropped there instead, as a crash or network loss would.
    `reached` is set when the rule fires. Anything else passes through untouched.
    """

    def __init__(self, upstream: Dovecot) -> None:
        """Listen on a free loopback port."""
        self.upstream = upstream
        self.reached = threading.Event()
        self._release = threading.Event()
        self._rule: tuple[bytes, Rule] | None = None
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def hold_at(self, command: bytes) -> None:
        """Hold the next client data containing `command` until open()."""
        self._arm(command, "hold")

    def cut_at(self, command: bytes) -> None:
        """Drop the connection at the next client data containing `command`."""
        self._arm(command, "cut")

    def _arm(self, command: bytes, rule: Rule) -> None:
        with self._lock:
            self.reached.clear()
            self._release.clear()
            self._rule = (command, rule)

    def open(self) -> None:
        """Let held data through and forget the rule."""
        with self._lock:
            self._rule = None
        self._release.set()

    def close(self) -> None:
        """Stop listening (connections in progress end with their peers)."""
        self.open()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection((self.upstream.host, self.upstream.port))
            except OSError:
                client.close()  # the worker sees the server as down
                continue
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _fires(self, data: bytes) -> Rule | None:
        with self._lock:
            if self._rule is None or self._rule[0] not in data:
                return None
            rule = self._rule[1]
            self._rule = None  # a rule fires once
            return rule

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                rule = self._fires(data) if from_client else None
                if rule is not None:
                    self.reached.set()
                    if rule == "cut":
                        break
                    self._release.wait(60)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
