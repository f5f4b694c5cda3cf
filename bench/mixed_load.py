"""The mixed API load of a 100-org, 1,000-user deployment, shared by the API benchmarks.

Open loop: calls go out on schedule whether or not earlier ones have answered. Two thirds are
reads (inbox lists, request details), the rest approvals, comments, uploads and new requests.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine

from api.security import TokenService
from schemas.calendar import OpeningHours, OrgCalendar
from store.db import transaction
from store.tables import Org, Template, User
from store.upsert import insert_missing

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


def org_id(n: int) -> str:
    """The id of the n-th bench org."""
    return f"bench{n:03d}"


def template_row(org: str, key: str, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The row of version 1 of a template, for insert_missing."""
    return {
        "org_id": org,
        "key": key,
        "version": 1,
        "name": body["name"],
        "body": body,
        "created_by": None,
        "created_at": now,
        "deleted_at": None,
    }


def seed(engine: Engine) -> None:
    """100 orgs, each: a requester pool (r1..r7), two approvers (a1, a2), a manager."""
    now = datetime.now(UTC)
    always = [OpeningHours(opens="00:00", closes="24:00")]
    calendar = OrgCalendar(
        timezone="UTC", week={d: always for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    )
    orgs, users, templates = [], [], []
    for n in range(ORGS):
        org = org_id(n)
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
        templates.append(template_row(org, "bench", body, now))
    with transaction(engine) as session:
        insert_missing(session, Org, orgs, ["id"])
        insert_missing(session, User, users, ["id"])
        insert_missing(session, Template, templates, ["org_id", "key", "version"])


@dataclass
class Tokens:
    """Bearer headers minted with the stack's key (what a login would hand out), renewed a
    minute before they expire, as a client refreshes its access token."""

    service: TokenService
    cache: dict[str, tuple[datetime, dict[str, str]]] = field(default_factory=dict)

    def headers(self, user_id: str) -> dict[str, str]:
        """Authorization headers for a seeded user."""
        renew_by, headers = self.cache.get(user_id, (datetime.min.replace(tzinfo=UTC), {}))
        if datetime.now(UTC) >= renew_by:
            org = user_id.rsplit("-", 1)[0]
            roles = ["MANAGEMENT"] if user_id.endswith("-m") else ["USER"]
            issued = self.service.issue_access(user_id, org, roles)
            headers = {"Authorization": f"Bearer {issued.token}"}
            self.cache[user_id] = (issued.expires_at - timedelta(minutes=1), headers)
        return headers


async def wait_healthy(url: str) -> None:
    """Block until the API at `url` answers /health/ready."""
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            try:
                if (await client.get(f"{url}/health/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the API never became ready")


async def run_at_rate(
    work: Callable[[int], Awaitable[None]], count: int, concurrency: int
) -> float:
    """Run work(0..count-1), `concurrency` at a time; calls per second."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await work(i)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.perf_counter() - started)


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
        org = org_id(rng.randrange(ORGS))
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
            started = await call(
                "start",
                "POST",
                "/api/v1/requests",
                f"{org}-r2",
                json={"template_key": "bench", "title": "new", "amount": "5"},
            )
            if started is not None and started.status_code in (200, 201):
                # New requests join the pool, so a long run keeps finding approvals to make.
                request_id = started.json()["request"]["request_id"]
                pool.waiting.append((f"{org}-r2|{request_id}", f"{org}-a1"))
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
        org = org_id(i % ORGS)
        requester = f"{org}-r{1 + i % 7}"
        started = await http.post(
            "/api/v1/requests",
            json={"template_key": "bench", "title": f"pool {i}"},
            headers=tokens.headers(requester),
        )
        started.raise_for_status()
        pool.waiting.append((f"{requester}|{started.json()['request']['request_id']}", f"{org}-a1"))

    await run_at_rate(one, count, 20)
    return pool
