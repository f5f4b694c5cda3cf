"""Where the CLI speaks from: the address the audit trail records for an operator's acts."""

from __future__ import annotations

import contextlib
import socket


def local_address_towards(target: str) -> str | None:
    """This machine's IP address on the route to `target` ("host:port"); None if unknown.

    A UDP socket's connect only picks the route: no packet is sent, so this is instant and works
    offline. The CLI talks to Temporal itself, so its operator's address is the one to audit.
    """
    host, _, port = target.rpartition(":")
    with contextlib.suppress(OSError, ValueError):
        family, _, _, _, address = socket.getaddrinfo(host.strip("[]"), int(port))[0][:5]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(address)
            return str(probe.getsockname()[0])
    return None
