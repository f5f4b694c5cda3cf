"""Events per second through the notification fan-out, and the delay to delivery.

Each event is a comment on an open request (the `decide` signal), so every event goes
through the real path: the workflow records it, the projection, then the one notification
activity sends two e-mails (requester and approver) to a local SMTP server and starts one
webhook delivery to a local HTTP receiver that checks signatures. The worker runs as its own
process (`signoff worker`). For each fixed event rate it prints the delay from the event
(workflow time) to the e-mail and to the webhook: p50/p95/max, and what was lost. Then it
raises the rate until p95 passes 2 s to find the ceiling. One JSON line.

    .venv/bin/python bench/notifications.py [--seconds 30] [--rates 8,10,12,14,16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.controller import Controller  # noqa: E402

from clients.approvals import request_handle, start_request  # noqa: E402
from devstack.temporal import installed_binary, start_throwaway_server  # noqa: E402
from notify.webhooks import verify  # noqa: E402
from schemas.approval import ApprovalInput, DecisionSignal  # noqa: E402
from store.db import make_engine, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.tables import Org, User, Webhook  # noqa: E402
from store.upsert import insert_missing  # noqa: E402
from workflows.approval import ApprovalWorkflow  # noqa: E402

SECRET = "bench-webhook-secret"
ORG = "notifybench"


@dataclass
class Arrivals:
    """When each e-mail and webhook arrived, keyed by (request, event seq)."""

    emails: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    webhooks: dict[tuple[str, int], float] = field(default_factory=dict)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class SmtpSink:
    """aiosmtpd handler: note when each message of an event arrived."""

    def __init__(self, arrivals: Arrivals) -> None:
        """Record into `arrivals`."""
        self.arrivals = arrivals

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Note the arrival of the e-mail of (request, event seq)."""
        message = message_from_bytes(envelope.content, policy=policy.default)
        request_id = str(message["X-Signoff-Request"])
        seq = int(str(message["X-Signoff-Event-Seq"]))
        with self.arrivals.lock:
            self.arrivals.emails.setdefault((request_id, seq), []).append(time.time())
        return "250 OK"


def webhook_server(arrivals: Arrivals) -> ThreadingHTTPServer:
    """A receiver that verifies every signature and notes arrival times."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = verify(
                SECRET,
                int(self.headers["X-Signoff-Timestamp"]),
                body,
                self.headers["X-Signoff-Signature"],
            )
            payload = json.loads(body)
            key = (payload["request"]["request_id"], int(payload["event"]["seq"]))
            with arrivals.lock:
                arrivals.webhooks.setdefault(key, time.time())
                arrivals.bad_signatures += 0 if ok else 1
            self.send_response(200 if ok else 401)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def seed(url: str, hook_url: str) -> None:
    """One org with a requester and an approver (e-mail and inbox) and a webhook for all."""
    now = datetime.now(UTC)
    with transaction(make_engine(url)) as session:
        insert_missing(
            session, Org, [{"id": ORG, "name": ORG, "calendar": {}, "created_at": now}], ["id"]
        )
        insert_missing(
            session,
            User,
            [
                {
                    "id": f"{ORG}-{n}",
                    "org_id": ORG,
                    "email": f"{n}@{ORG}.test",
                    "name": n,
                    "roles": ["USER"],
                    "active": True,
                    "failed_logins": 0,
                    "notification_channels": ["inbox", "email"],
                    "created_at": now,
                }
                for n in ("requester", "approver")
            ],
            ["id"],
        )
        insert_missing(
            session,
            Webhook,
            [
                {
                    "id": "whk-bench",
                    "org_id": ORG,
                    "url": hook_url,
                    "event_types": ["*"],
                    "active": True,
                    "secret": SECRET,
                    "created_by": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
            ],
            ["id"],
        )


def _input(n: int) -> ApprovalInput:
    week = {
        d: [{"opens": "00:00", "closes": "24:00"}]
        for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    }
    return ApprovalInput.model_validate(
        {
            "org_id": ORG,
            "requester": f"{ORG}-requester",
            "title": f"bench {n}",
            "template": {
                "key": "bench",
                "name": "Bench",
                "levels": [
                    {
                        "name": "Approve",
                        "approvers": {"users": [f"{ORG}-approver"]},
                        "tat": {"hours": 1000},
                    }
                ],
            },
            "calendar": {"timezone": "UTC", "week": week, "covers_years": [2026, 2028]},
        }
    )


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3) if ordered else 0.0


async def run_rate(
    client: Any, queue: str, arrivals: Arrivals, rate: float, seconds: float, requests: list[str]
) -> dict[str, Any]:
    """Send comments at `rate` events/s; measure delivery delays of exactly those events."""
    started_at = time.time()
    start = time.perf_counter()
    sent = 0
    # Open loop: each event is sent on its schedule, not after the previous one was accepted,
    # so a slow server shows up as delay instead of silently lowering the rate.
    signals: list[asyncio.Task[None]] = []
    while time.perf_counter() - start < seconds:
        await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
        signals.append(
            asyncio.create_task(
                request_handle(client, requests[sent % len(requests)]).signal(
                    ApprovalWorkflow.decide,
                    DecisionSignal(actor=f"{ORG}-requester", kind="comment", text=f"event {sent}"),
                )
            )
        )
        sent += 1
    await asyncio.gather(*signals)
    achieved = sent / (time.perf_counter() - start)
    deadline = time.time() + 90
    events: dict[tuple[str, int], float] = {}
    while time.time() < deadline:
        events = await _events(client, requests, since=started_at)
        with arrivals.lock:
            mails = {k: list(v) for k, v in arrivals.emails.items()}
            hooks = dict(arrivals.webhooks)
        if len(events) == sent and all(mails.get(k) and k in hooks for k in events):
            break
        await asyncio.sleep(1)
    # A comment by the requester is e-mailed to the approver: one e-mail per event.
    delays_mail = [max(mails[k]) - at for k, at in events.items() if mails.get(k)]
    delays_hook = [hooks[k] - at for k, at in events.items() if k in hooks]
    return {
        "rate_per_s": rate,
        "achieved_per_s": round(achieved, 2),
        "sent": sent,
        "events": len(events),
        "emails_delivered": len(delays_mail),
        "webhooks_delivered": len(delays_hook),
        "email_p50_s": _pct(delays_mail, 0.5),
        "email_p95_s": _pct(delays_mail, 0.95),
        "webhook_p50_s": _pct(delays_hook, 0.5),
        "webhook_p95_s": _pct(delays_hook, 0.95),
        "lost": sent - min(len(delays_mail), len(delays_hook)),
    }


async def _events(client: Any, requests: list[str], since: float) -> dict[tuple[str, int], float]:
    """(request, seq) -> event time of the comments made in this run."""
    from clients.approvals import read_state

    found: dict[tuple[str, int], float] = {}
    for rid in requests:
        state = await read_state(request_handle(client, rid))
        for event in state.audit:
            if event.kind.value == "commented" and event.at.timestamp() >= since - 1:
                found[(rid, event.seq)] = event.at.timestamp()
    return found


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Start everything, run each rate on fresh requests, stop."""
    scratch = Path(tempfile.mkdtemp(prefix="signoff-notify-bench-"))
    arrivals = Arrivals()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(SmtpSink(arrivals), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    receiver = webhook_server(arrivals)
    env = await start_throwaway_server("--db-filename", str(scratch / "temporal.db"))
    url = f"sqlite:///{scratch / 'signoff.db'}"
    upgrade(url)
    seed(url, f"http://127.0.0.1:{receiver.server_address[1]}/hook")
    queue = "notify-bench"
    environment = os.environ | {
        "SIGNOFF_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "SIGNOFF_DATABASE_URL": url,
        "SIGNOFF_DATA_DIR": str(scratch),
        "SIGNOFF_TASK_QUEUE": queue,
        "SIGNOFF_SMTP_HOST": "127.0.0.1",
        "SIGNOFF_SMTP_PORT": str(smtp_port),
        "SIGNOFF_SMTP_STARTTLS": "false",
        "SIGNOFF_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    signoff = installed_binary("signoff")
    assert signoff
    worker = subprocess.Popen(
        [signoff, "worker"],
        env=environment,
        stdout=(scratch / "worker.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    results = []
    try:
        for rate in args.rates:
            requests = [
                (await start_request(env.client, queue, _input(i)))[0].id
                for i in range(max(5, int(rate)))
            ]
            await asyncio.sleep(2)  # let the assignment e-mails of the new requests go out
            results.append(
                await run_rate(env.client, queue, arrivals, rate, args.seconds, requests)
            )
            if results[-1]["email_p95_s"] > 2 or results[-1]["webhook_p95_s"] > 2:
                break
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        smtp.stop()
        receiver.shutdown()
        await env.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    within = [
        r["rate_per_s"]
        for r in results
        if r["email_p95_s"] <= 2 and r["webhook_p95_s"] <= 2 and r["lost"] == 0
    ]
    return {
        "benchmark": "notifications",
        "runs": results,
        "ceiling_events_per_s": max(within, default=0.0),
        "bad_signatures": arrivals.bad_signatures,
        "target": "12 events/s with p95 under 2 s",
    }


def run() -> None:
    """Parse arguments, run, print one JSON line, exit without interpreter teardown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--rates",
        type=lambda s: [float(r) for r in s.split(",")],
        default=[8.0, 10.0, 12.0, 14.0, 16.0],
    )
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
    os._exit(0)  # the Temporal client's threads can abort CPython's teardown (sdk-python#300)


if __name__ == "__main__":
    run()
