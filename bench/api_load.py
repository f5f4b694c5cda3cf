"""The HTTP API under load, beside the raw Temporal client on the same server.

(a) Requests of two levels started and approved twice over HTTP, versus the same work done
    by the raw Temporal client (update-with-start and two updates) against the same server
    and worker, in the same run: the ratio says what the API costs.
(b) A mixed load at fixed arrival rates (open loop: requests are sent on schedule whether
    or not earlier ones have answered), the mix of a 100-org, 1,000-user deployment: two
    thirds reads (inbox lists, request details), the rest approvals, comments, uploads and
    new requests. Prints p50/p95/p99 and errors per rate.

The API and the worker run as their own processes (`signoff api`, `signoff worker`), as in
production; the load generator is this process. Prints one JSON line.

    .venv/bin/python bench/api_load.py [--requests 150] [--rates 34,100] [--seconds 20]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine  # noqa: E402

from api.security import TokenService  # noqa: E402
from clients.approvals import send_update, start_request  # noqa: E402
from config.settings import Settings  # noqa: E402
from devstack.temporal import installed_binary, start_throwaway_server  # noqa: E402
from schemas.approval import ApprovalInput, ApproveInput  # noqa: E402
from schemas.calendar import OpeningHours, OrgCalendar  # noqa: E402
from store.db import make_engine, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.tables import Org, Template, User  # noqa: E402
from store.upsert import insert_missing  # noqa: E402
from workflows.approval import ApprovalWorkflow  # noqa: E402

ORGS, USERS_PER_ORG = 100, 10
SECRET = "bench-secret-key-not-for-production"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TEMPLATE = {
    "name": "Bench purchase",
    "levels": [
        {"name": "Lead", "approvers": {"users": ["{org}-a1"]}, "tat": {"hours": 8}},
        {"name": "Finance", "approvers": {"users": ["{org}-a2"]}, "tat": {"hours": 8}},
    ],
}


def _org(n: int) -> str:
    return f"bench{n:03d}"


def seed(engine: Engine) -> None:
    """100 orgs, each: a requester pool (r1..r7), two approvers (a1, a2), a manager."""
    now = datetime.now(UTC)
    always = [OpeningHours(opens="00:00", closes="24:00")]
    calendar = OrgCalendar(
        timezone="UTC", week={d: always for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    )
    orgs, users, templates = [], [], []
    for n in range(ORGS):
        org = _org(n)
        orgs.append(
            {
                "id": org,
                "name": org,
                "calendar": calendar.model_dump(mode="json"),
                "created_at": now,
            }
        )
        people = [(f"{org}-r{i}", ["USER"]) for i in range(1, 8)]
        people += [(f"{org}-a1", ["USER"]), (f"{org}-a2", ["USER"]), (f"{org}-m", ["MANAGEMENT"])]
        users += [
            {
                "id": uid,
                "org_id": org,
                "email": f"{uid}@bench.test",
                "name": uid,
                "roles": roles,
                "active": True,
                "failed_logins": 0,
                "created_at": now,
            }
            for uid, roles in people
        ]
        body = json.loads(json.dumps(TEMPLATE).replace("{org}", org))
        templates.append(
            {
                "org_id": org,
                "key": "bench",
                "version": 1,
                "name": body["name"],
                "body": body,
                "created_by": None,
                "created_at": now,
                "deleted_at": None,
            }
        )
    with transaction(engine) as session:
        insert_missing(session, Org, orgs, ["id"])
        insert_missing(session, User, users, ["id"])
        insert_missing(session, Template, templates, ["org_id", "key", "version"])


@dataclass
class Tokens:
    """Bearer headers minted with the stack's key (what a login would hand out)."""

    service: TokenService
    cache: dict[str, dict[str, str]] = field(default_factory=dict)

    def headers(self, user_id: str) -> dict[str, str]:
        """Authorization headers for a seeded user."""
        if user_id not in self.cache:
            org = user_id.rsplit("-", 1)[0]
            roles = ["MANAGEMENT"] if user_id.endswith("-m") else ["USER"]
            token = self.service.issue_access(user_id, org, roles).token
            self.cache[user_id] = {"Authorization": f"Bearer {token}"}
        return self.cache[user_id]


async def _wait_healthy(url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"{url}/health/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the API never became ready")


async def _rate(work: Callable[[int], Awaitable[None]], count: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await work(i)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.perf_counter() - started)


async def compare_with_raw_client(
    http: httpx.AsyncClient, env: Any, tokens: Tokens, queue: str, count: int
) -> dict[str, float]:
    """(a) Start + two approvals: over HTTP, and with the raw Temporal client."""
    client = env.client

    async def over_http(i: int) -> None:
        org = _org(i % ORGS)
        started = await http.post(
            "/api/v1/requests",
            json={"template_key": "bench", "title": f"http {i}", "amount": "100"},
            headers=tokens.headers(f"{org}-r1"),
        )
        started.raise_for_status()
        request_id = started.json()["request"]["request_id"]
        for approver in ("a1", "a2"):
            done = await http.post(
                f"/api/v1/requests/{request_id}/approve",
                json={},
                headers=tokens.headers(f"{org}-{approver}"),
            )
            done.raise_for_status()

    template = json.loads(json.dumps(TEMPLATE).replace("{org}", "raw"))
    calendar_body = {
        "timezone": "UTC",
        "covers_years": [2026, 2028],
        "week": {
            d: [{"opens": "00:00", "closes": "24:00"}]
            for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
    }

    async def raw(i: int) -> None:
        inp = ApprovalInput.model_validate(
            {
                "org_id": "raw",
                "template": template | {"key": "bench", "version": 1},
                "calendar": calendar_body,
                "requester": "raw-r1",
                "title": f"raw {i}",
                "amount": "100",
            }
        )
        handle, _ = await start_request(client, queue, inp)
        for approver in ("raw-a1", "raw-a2"):
            await send_update(handle, ApprovalWorkflow.approve, ApproveInput(actor=approver))

    await _rate(over_http, 10, 5)
    await _rate(raw, 10, 5)
    raw_rate = await _rate(raw, count, 20)
    http_rate = await _rate(over_http, count, 20)
    return {
        "raw_client_per_s": round(raw_rate, 2),
        "http_api_per_s": round(http_rate, 2),
        "ratio": round(http_rate / raw_rate, 3),
        "target_ratio": 0.8,
    }


@dataclass
class Pool:
    """Open requests waiting for an approval, by the approver who is due."""

    waiting: list[tuple[str, str]] = field(default_factory=list)  # (request id, approver id)


async def mixed_load(
    http: httpx.AsyncClient, tokens: Tokens, rate: float, seconds: float, pool: Pool
) -> dict[str, Any]:
    """(b) Open-loop load at a fixed arrival rate; latencies of every call."""
    rng = random.Random(rate)
    latencies: list[float] = []
    errors: dict[str, int] = {}

    async def call(kind: str, method: str, url: str, user: str, **kw: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await http.request(method, url, headers=tokens.headers(user), **kw)
        except httpx.HTTPError as exc:
            errors[f"{kind}:{type(exc).__name__}"] = (
                errors.get(f"{kind}:{type(exc).__name__}", 0) + 1
            )
            return None
        latencies.append(time.perf_counter() - started)
        if response.status_code >= 400:
            key = f"{kind}:{response.status_code}"
            errors[key] = errors.get(key, 0) + 1
        return response

    async def one() -> None:
        org = _org(rng.randrange(ORGS))
        roll = rng.random()
        if roll < 1 / 3:
            await call(
                "inbox",
                "GET",
                "/api/v1/requests",
                f"{org}-a1",
                params={"assigned_to_me": "true", "limit": 20},
            )
        elif roll < 2 / 3:
            if pool.waiting:
                request_id, _ = rng.choice(pool.waiting)
                owner = request_id.split("|")[0]
                await call("detail", "GET", f"/api/v1/requests/{request_id.split('|')[1]}", owner)
            else:
                await call("list", "GET", "/api/v1/requests", f"{org}-r1", params={"limit": 20})
        elif roll < 0.78 and pool.waiting:
            key, approver = pool.waiting.pop(rng.randrange(len(pool.waiting)))
            request_id = key.split("|")[1]
            answer = await call(
                "approve", "POST", f"/api/v1/requests/{request_id}/approve", approver, json={}
            )
            if answer is not None and answer.status_code == 200 and approver.endswith("a1"):
                pool.waiting.append((key, approver[:-1] + "2"))
        elif roll < 0.86:
            await call(
                "start",
                "POST",
                "/api/v1/requests",
                f"{org}-r2",
                json={"template_key": "bench", "title": "new", "amount": "5"},
            )
        elif roll < 0.93 and pool.waiting:
            key, _ = rng.choice(pool.waiting)
            owner, request_id = key.split("|")
            await call(
                "comment",
                "POST",
                f"/api/v1/requests/{request_id}/comments",
                owner,
                json={"text": "any news?"},
            )
        else:
            key, _ = rng.choice(pool.waiting) if pool.waiting else ("|", "")
            owner, request_id = key.split("|")
            if request_id:
                await call(
                    "upload",
                    "POST",
                    f"/api/v1/requests/{request_id}/documents",
                    owner,
                    files={"file": ("quote.pdf", PDF, "application/pdf")},
                )

    tasks = []
    started = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - started) < seconds:
        due = int(elapsed * rate) + 1
        while sent < due:
            tasks.append(asyncio.create_task(one()))
            sent += 1
        await asyncio.sleep(max(0.0, sent / rate - (time.perf_counter() - started)))
    await asyncio.gather(*tasks)
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)

    return {
        "rate_per_s": rate,
        "sent": sent,
        "answered": len(latencies),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(1000 * statistics.fmean(ordered), 1),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
    }


async def fill_pool(http: httpx.AsyncClient, tokens: Tokens, count: int) -> Pool:
    """Open requests across all orgs, each waiting for its first approver."""
    pool = Pool()

    async def one(i: int) -> None:
        org = _org(i % ORGS)
        requester = f"{org}-r{1 + i % 7}"
        started = await http.post(
            "/api/v1/requests",
            json={"template_key": "bench", "title": f"pool {i}"},
            headers=tokens.headers(requester),
        )
        started.raise_for_status()
        pool.waiting.append((f"{requester}|{started.json()['request']['request_id']}", f"{org}-a1"))

    await _rate(one, count, 20)
    return pool


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Start the stack, run (a) and (b), stop everything."""
    scratch = Path(tempfile.mkdtemp(prefix="signoff-bench-"))
    env = await start_throwaway_server("--db-filename", str(scratch / "temporal.db"))
    url = args.database_url or f"sqlite:///{scratch / 'signoff.db'}"
    upgrade(url)
    engine = make_engine(url)
    seed(engine)
    port = 18000 + os.getpid() % 1000
    environment = os.environ | {
        "SIGNOFF_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "SIGNOFF_DATABASE_URL": url,
        "SIGNOFF_DATA_DIR": str(scratch),
        "SIGNOFF_SECRET_KEY": SECRET,
        "SIGNOFF_API_PORT": str(port),
        "SIGNOFF_TASK_QUEUE": "bench",
        # 1,000 users share 127.0.0.1: per-IP limits would measure the limiter, not the API.
        "SIGNOFF_RATE_LIMIT_LOGIN_PER_IP": "10000000",
        "SIGNOFF_RATE_LIMIT_WRITES_PER_IP": "10000000",
        "SIGNOFF_RATE_LIMIT_WRITES_PER_USER": "10000000",
    }
    signoff = installed_binary("signoff")
    assert signoff
    logs = (scratch / "processes.log").open("ab")
    processes = [
        subprocess.Popen([signoff, command], env=environment, stdout=logs, stderr=subprocess.STDOUT)
        for command in ("worker", "api")
    ]
    tokens = Tokens(TokenService(Settings(secret_key=SECRET), SECRET.encode()))
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(base)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            figures: dict[str, Any] = {
                "benchmark": "api_load",
                "read_model": url.split(":")[0],
                "temporal": "dev server, SQLite file",
            }
            figures["start_and_two_approvals"] = await compare_with_raw_client(
                http, env, tokens, "bench", args.requests
            )
            figures["mixed"] = []
            for rate in args.rates:
                pool = await fill_pool(http, tokens, int(rate * args.seconds * 0.3) + 50)
                figures["mixed"].append(await mixed_load(http, tokens, rate, args.seconds, pool))
            figures["target"] = "at 100/s: p95 under 100 ms and no errors"
            return figures
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        engine.dispose()
        await env.shutdown()


def run() -> None:
    """Parse the arguments, run, print the JSON line, and exit without interpreter teardown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument(
        "--rates", type=lambda s: [float(r) for r in s.split(",")], default=[34.0, 100.0]
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--database-url", default="")
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
    # The Temporal client's threads can abort CPython's teardown (temporalio/sdk-python#300).
    os._exit(0)


if __name__ == "__main__":
    run()
