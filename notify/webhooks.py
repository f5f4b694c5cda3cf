"""Webhook signatures and the refusal of targets inside the network."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeTarget(ValueError):
    """A webhook URL that is malformed or points inside the network."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Signoff-Signature value: sha256=<hex HMAC of "{timestamp}.{body}">."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    """True when the signature matches (constant time)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse URLs that are not http(s) or whose host resolves to a private address.

    Checked when a webhook is saved and again before every delivery, so a name that later
    resolves inside the network (DNS rebinding) is refused too.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("a webhook URL needs http:// or https:// and a host")
    if parts.username or parts.password:
        raise UnsafeTarget("a webhook URL may not carry credentials")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UnsafeTarget(f"the host {parts.hostname!r} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        # Only globally routable addresses: this also refuses carrier-grade NAT
        # (100.64/10, where some clouds keep their metadata service) and documentation ranges.
        if not address.is_global or address.is_multicast:
            raise UnsafeTarget(f"{parts.hostname} resolves to {address}, inside the network")
