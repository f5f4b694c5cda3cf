"""Read an approver's reply: which approval it answers, and APPROVE or REJECT above the quote."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from html import unescape
from typing import Literal

from notify.tokens import token_from_address

_APPROVE = {"approve", "approved", "approve.", "yes", "ok", "accept", "accepted"}
_REJECT = {"reject", "rejected", "decline", "declined", "no", "deny", "denied"}
# Where the quoted original starts in common mail clients.
_QUOTE_START = re.compile(
    r"^(>|on .{1,200} wrote:\s*$|-{2,}\s*original message\s*-{2,}|from:\s|sent from my |_{10,}"
    r"|--\s*$)",  # the last one: a signature separator ends the answer too
    re.IGNORECASE,
)
_INVISIBLE = re.compile(r"<(style|head|script)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Reply:
    """What a reply says, or why it says nothing usable."""

    message_id: str
    sender: str
    token: str | None
    command: Literal["approve", "reject"] | None
    comment: str | None
    automatic: bool


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    text = content if isinstance(content, str) else ""
    if part.get_content_subtype() == "html":
        text = _INVISIBLE.sub("", text)
        text = re.sub(r"<br\s*/?>|</p>|</div>", "\n", text, flags=re.IGNORECASE)
        text = unescape(re.sub(r"<[^>]+>", "", text))
    # Non-breaking spaces are what an HTML editor makes of two spaces.
    return text.replace("\r\n", "\n").replace("\xa0", " ")


def _first_paragraph(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if _QUOTE_START.match(stripped):
            break
        if not stripped:
            if lines:
                break
            continue
        lines.append(stripped)
    return lines


def parse_command(text: str) -> tuple[Literal["approve", "reject"] | None, str | None]:
    """The command on the first line of the reply (above any quote) and the rest as comment."""
    lines = _first_paragraph(text)
    if not lines:
        return None, None
    first, _, rest_of_line = lines[0].replace("\t", " ").partition(" ")
    word = first.strip(".,:;!").lower()
    command: Literal["approve", "reject"] | None = (
        "approve" if word in _APPROVE else "reject" if word in _REJECT else None
    )
    if command is None:
        return None, None
    comment = " ".join([rest_of_line.lstrip(" -:,.")] + lines[1:]).strip()
    return command, comment or None


def read_reply(raw: bytes, reply_to: str) -> Reply:
    """Parse a raw mail of the reply mailbox."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    sender = parseaddr(str(message.get("From", "")))[1].strip().lower()
    recipients = getaddresses(
        [str(message.get(h, "")) for h in ("To", "Cc", "Delivered-To", "X-Original-To")]
    )
    token = next(
        (t for _, address in recipients if (t := token_from_address(reply_to, address))), None
    )
    command, comment = parse_command(_text(message))
    automatic = str(message.get("Auto-Submitted", "no")).lower() != "no" or bool(
        message.get("X-Autoreply") or message.get("X-Autorespond")
    )
    return Reply(
        message_id=str(message.get("Message-ID", "")).strip(),
        sender=sender,
        token=token,
        command=command,
        comment=comment,
        automatic=automatic,
    )
