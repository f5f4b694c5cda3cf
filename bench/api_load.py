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
import sys
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.security import TokenService  # noqa: E402
from bench.api_stack import TASK_QUEUE, start_api_stack  # noqa: E402
from bench.mixed_load import (  # noqa: E402
    ORGS,
    SECRET,
    TEMPLATE,
    Tokens,
    fill_pool,
    mixed_load,
    org_id,
    run_at_rate,
    wait_healthy,
)
from clients.approvals import send_update, start_request  # noqa: E402
from config.settings import Settings  # noqa: E402
from schemas.approval import ApprovalInput, ApproveInput  # noqa: E402
from workflows.approval import ApprovalWorkflow  # noqa: E402


async def compare_with_raw_client(
    http: httpx.AsyncClient, env: Any, tokens: Tokens, queue: str, count: int
) -> dict[str, float]:
    """(a) Start + two approvals: over HTTP, and with the raw Temporal client."""
    client = env.client

    async def over_http(i: int) -> None:
        org = org_id(i % ORGS)
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

    await run_at_rate(over_http, 10, 5)
    await run_at_rate(raw, 10, 5)
    raw_rate = await run_at_rate(raw, count, 20)
    http_rate = await run_at_rate(over_http, count, 20)
    return {
        "raw_client_per_s": round(raw_rate, 2),
        "http_api_per_s": round(http_rate, 2),
        "ratio": round(http_rate / raw_rate, 3),
        "target_ratio": 0.8,
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Start the stack, run (a) and (b), stop everything."""
    stack = await start_api_stack(args.database_url)
    tokens = Tokens(TokenService(Settings(secret_key=SECRET), SECRET.encode()))
    try:
        await wait_healthy(stack.base_url)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30, limits=limits) as http:
            figures: dict[str, Any] = {
                "benchmark": "api_load",
                "read_model": stack.database_url.split(":")[0],
                "temporal": "dev server, SQLite file",
            }
            figures["start_and_two_approvals"] = await compare_with_raw_client(
                http, stack.temporal, tokens, TASK_QUEUE, args.requests
            )
            figures["mixed"] = []
            for rate in args.rates:
                pool = await fill_pool(http, tokens, int(rate * args.seconds * 0.3) + 50)
                figures["mixed"].append(await mixed_load(http, tokens, rate, args.seconds, pool))
            figures["target"] = "at 100/s: p95 under 100 ms and no errors"
            return figures
    finally:
        await stack.stop()


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
