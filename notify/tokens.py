"""Action tokens for e-mailed links and reply addresses: derived, so a retried send reuses them.

A token is an HMAC of (request, level, approver, action) under the server's secret; only its
SHA-256 is stored, with the expiry and the moment it was used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal

Action = Literal["approve", "reject", "reply"]


def action_token(
    secret: bytes, request_id: str, level_id: str, approver: str, action: Action
) -> str:
    """A 32-character lower-case token: safe in URLs and in the local part of an address."""
    message = f"signoff-action|{request_id}|{level_id}|{approver}|{action}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:20]
    return base64.b32encode(digest).decode().lower()


def token_hash(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.strip().lower().encode()).hexdigest()


def reply_address(reply_to: str, token: str) -> str:
    """local+token@domain for an approval by reply."""
    local, _, domain = reply_to.partition("@")
    return f"{local}+{token}@{domain}"


def token_from_address(reply_to: str, address: str) -> str | None:
    """The token of a local+token@domain address of our reply mailbox, else None."""
    local, _, domain = reply_to.lower().partition("@")
    their_local, _, their_domain = address.strip().lower().partition("@")
    base, plus, token = their_local.partition("+")
    if their_domain != domain or base != local or not plus or len(token) != 32:
        return None
    return token
