"""A real HTTP endpoint for Signoff's outbound webhooks (stdlib ThreadingHTTPServer on loopback).

Every POST is recorded on arrival with its headers, exact body and whether its
X-Signoff-Signature matches an HMAC-SHA256 recomputed here, independently of Signoff's code,
over "{X-Signoff-Timestamp}.{body}" with the secret the receiver was given. It can answer 500
to the first N attempts of each delivery, fail until told to recover, and hold answers back.
`Hooks` and `wait_delivery` are the API side: webhooks a test creates (and deletes afterwards)
and the deliveries Signoff reports for them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

ALWAYS = 1_000_000
HOOKS = "/api/v1/webhooks"


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    """sha256=<hex HMAC(secret, "{timestamp}.{body}")>, as API.md specifies it."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class Hit:
    """One request the receiver got."""

    at: float  # time.monotonic() on arrival
    headers: dict[str, str]  # names in lower case
    body: bytes
    signature_ok: bool
    answered: int

    @property
    def delivery(self) -> str:
        """The X-Signoff-Delivery header."""
        return self.headers.get("x-signoff-delivery", "")

    def json(self) -> dict[str, Any]:
        """The body as JSON ({} when it is not a JSON object)."""
        try:
            data = json.loads(self.body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def request_id(self) -> str | None:
        """The request the event is about."""
        request = self.json().get("request")
        return request.get("request_id") if isinstance(request, dict) else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status = self.server.receiver.record({k.lower(): v for k, v in self.headers.items()}, body)
        self.server.receiver.wait_released()
        payload = b"ok" if status < 300 else b"receiver says no"
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the sender gave up waiting

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet."""


class Receiver:
    """A webhook endpoint on 127.0.0.1 and a free port; start() before use, stop() after."""

    def __init__(self, failures: int = 0, name: str = "hook") -> None:
        """Answer 500 to the first `failures` attempts of each delivery, then 200."""
        self.secret = ""
        self.failures = failures
        self._lock = threading.Lock()
        self._hits: list[Hit] = []
        self._per_delivery: dict[str, int] = {}
        self._released = threading.Event()
        self._released.set()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/{name}"

    def start(self) -> Receiver:
        """Serve in a thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Answer anything held back, then shut down."""
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def fail_always(self) -> None:
        """Answer 500 to everything from now on."""
        self.failures = ALWAYS

    def recover(self) -> None:
        """Answer 200 to everything from now on."""
        self.failures = 0

    def hold(self) -> None:
        """Keep answers back (requests are still recorded on arrival) until release()."""
        self._released.clear()

    def release(self) -> None:
        """Send the answers held back."""
        self._released.set()

    def wait_released(self) -> None:
        """Block a handler while answers are held (at most 20 s)."""
        self._released.wait(timeout=20)

    def record(self, headers: dict[str, str], body: bytes) -> int:
        """Keep the request; the status to answer it with."""
        timestamp = headers.get("x-signoff-timestamp", "")
        signature = headers.get("x-signoff-signature", "")
        ok = (
            bool(self.secret)
            and timestamp.isdigit()
            and hmac.compare_digest(expected_signature(self.secret, timestamp, body), signature)
        )
        with self._lock:
            delivery = headers.get("x-signoff-delivery", "")
            seen = self._per_delivery.get(delivery, 0)
            self._per_delivery[delivery] = seen + 1
            status = 500 if seen < self.failures else 200
            self._hits.append(Hit(time.monotonic(), headers, body, ok, status))
        return status

    def hits(self, request_id: str | None = None) -> list[Hit]:
        """What arrived so far (about this request only, when given), oldest first."""
        with self._lock:
            hits = list(self._hits)
        return [h for h in hits if request_id is None or h.request_id == request_id]

    async def wait_for(
        self,
        done: Callable[[list[Hit]], bool],
        *,
        request_id: str | None = None,
        seconds: float = 30,
        what: str = "the expected requests",
    ) -> list[Hit]:
        """The hits (about this request) once `done(hits)` holds; fails after `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            hits = self.hits(request_id)
            if done(hits):
                return hits
            if time.monotonic() > deadline:
                seen = [(h.delivery, h.headers.get("x-signoff-event"), h.answered) for h in hits]
                raise AssertionError(f"{self.url} never got {what}; got {seen}")
            await asyncio.sleep(0.05)

    async def wait_event(self, event: str, request_id: str, seconds: float = 30) -> Hit:
        """The first request with this X-Signoff-Event about this request, waiting for it."""
        hits = await self.wait_for(
            lambda hs: any(h.headers.get("x-signoff-event") == event for h in hs),
            request_id=request_id,
            seconds=seconds,
            what=event,
        )
        return next(h for h in hits if h.headers.get("x-signoff-event") == event)


class Hooks:
    """Webhooks created by a test; `delete_all` afterwards, so no later event reaches them."""

    def __init__(self) -> None:
        """None yet."""
        self.ids: list[str] = []

    async def create(
        self,
        api: httpx.AsyncClient,
        headers: dict[str, str],
        target: Receiver | str,
        event_types: list[str],
        active: bool = True,
    ) -> dict[str, Any]:
        """POST the webhook (201); a receiver is given the secret of the answer."""
        url = target.url if isinstance(target, Receiver) else target
        body = {"url": url, "event_types": event_types, "active": active}
        response = await api.post(HOOKS, json=body, headers=headers)
        assert response.status_code == 201, response.text
        hook: dict[str, Any] = response.json()
        self.ids.append(hook["id"])
        if isinstance(target, Receiver):
            target.secret = hook["secret"]
        return hook

    async def delete_all(self, api: httpx.AsyncClient, headers: dict[str, str]) -> None:
        """DELETE every webhook created (204, or 404 when the test deleted it)."""
        for hook_id in self.ids:
            gone = await api.delete(f"{HOOKS}/{hook_id}", headers=headers)
            assert gone.status_code in (204, 404), gone.text


async def deliveries(
    api: httpx.AsyncClient, headers: dict[str, str], hook_id: str, request_id: str, **params: str
) -> list[dict[str, Any]]:
    """The webhook's deliveries (GET .../deliveries) of events of this request, newest first."""
    response = await api.get(f"{HOOKS}/{hook_id}/deliveries", params=params, headers=headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return [d for d in rows if d["payload"]["request"]["request_id"] == request_id]


async def wait_delivery(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    hook_id: str,
    delivery_id: str,
    status: str,
    seconds: float = 30,
) -> dict[str, Any]:
    """The delivery once the API reports it in this status; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        response = await api.get(f"{HOOKS}/{hook_id}/deliveries", headers=headers)
        assert response.status_code == 200, response.text
        for delivery in response.json():
            if delivery["id"] == delivery_id and delivery["status"] == status:
                return dict(delivery)
        if time.monotonic() > deadline:
            raise AssertionError(f"{delivery_id} never {status}: {response.json()}")
        await asyncio.sleep(0.1)
