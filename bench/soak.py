"""A soak: the API benchmark's mixed load for a long time, with the worker restarted on a timer.

`signoff api` and `signoff worker` run as processes on a dev server of their own; this process
sends the mixed load of a 100-org, 1,000-user deployment (bench/mixed_load.py) at a fixed rate,
open loop, and restarts the worker every few minutes (SIGTERM and a new process at once, as a
rolling deploy does; `--kill` uses SIGKILL). Prints one JSON line: calls sent and answered,
errors by kind, p50/p95/p99, requests started and finished, every worker restart, and the API's
and the worker's resident memory sampled through the run. Memory is judged by its growth: the
API's from the first sample after warm-up to the last, and the worker's at the end of each of
its lives (a worker restarted every few minutes starts small each time, so its growth within a
life is what could leak), next to the workflows in its sticky cache and the open requests: a
worker's memory that grows with them is its cache, bounded by the cache's size.

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 34] [--restart-every 5] [--kill]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--sticky-cache 500]
    .venv/bin/python bench/soak.py --minutes 2 --restart-every 0.5   # a short run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402

from api.security import TokenService  # noqa: E402
from bench.api_stack import ApiStack, start_api_stack  # noqa: E402
from bench.mixed_load import SECRET, Tokens, fill_pool, mixed_load, wait_healthy  # noqa: E402
from bench.worker_stack import sticky_cache_size  # noqa: E402
from config.settings import Settings  # noqa: E402
from store.tables import RequestRecord  # noqa: E402


def _worker_setting(stack: ApiStack, name: str) -> int:
    """A worker setting as the stack's worker has it: its environment's, else the default."""
    default = Settings.model_fields[f"worker_{name}"].default
    return int(stack.environment.get(f"SIGNOFF_WORKER_{name.upper()}", default))


def _request_counts(stack: ApiStack) -> dict[str, int]:
    with Session(stack.engine) as session:
        rows = session.exec(
            select(RequestRecord.status, func.count()).group_by(col(RequestRecord.status))
        ).all()
    return {status: count for status, count in rows}


async def _restart_on_a_timer(
    stack: ApiStack, every: float, until: float, kill: bool, lives: list[dict[str, Any]]
) -> None:
    """Restart the worker every `every` seconds until `until`; at each end note its memory next
    to the workflows in its sticky cache (memory that tracks them is the cache, not a leak)."""
    born = time.monotonic()
    metrics_port = _worker_setting(stack, "metrics_port")
    async with httpx.AsyncClient(timeout=10) as metrics:
        while time.monotonic() + every < until:
            await asyncio.sleep(every)
            rss = stack.memory()["worker_rss_mib"]
            cached = await sticky_cache_size(metrics, metrics_port)
            lives.append(
                {
                    "seconds": round(time.monotonic() - born, 1),
                    "rss_mib": rss,
                    "cached_workflows": cached,
                    "open_requests": _request_counts(stack).get("IN_PROGRESS", 0),
                }
            )
            await asyncio.to_thread(stack.restart_worker, kill=kill)
            born = time.monotonic()


async def _sample_memory(
    stack: ApiStack, every: float, until: float, samples: list[dict[str, float]]
) -> None:
    started = time.monotonic()
    while time.monotonic() < until:
        samples.append({"at_s": round(time.monotonic() - started, 1)} | stack.memory())
        await asyncio.sleep(min(every, max(0.0, until - time.monotonic())))


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Start the stack, warm it up, run the load with restarts and samples, and report."""
    cache = {"SIGNOFF_WORKER_STICKY_CACHE_SIZE": str(args.sticky_cache)}
    stack = await start_api_stack(args.database_url, extra_env=cache if args.sticky_cache else {})
    tokens = Tokens(TokenService(Settings(secret_key=SECRET), SECRET.encode()))
    seconds = args.minutes * 60
    try:
        await wait_healthy(stack.base_url)
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30, limits=limits) as http:
            pool = await fill_pool(http, tokens, int(args.rate * 10) + 50)
            before = _request_counts(stack)
            start_memory = stack.memory()
            until = time.monotonic() + seconds
            lives: list[dict[str, Any]] = []
            samples: list[dict[str, float]] = []
            restarts = asyncio.create_task(
                _restart_on_a_timer(stack, args.restart_every * 60, until, args.kill, lives)
            )
            sampler = asyncio.create_task(
                _sample_memory(stack, max(5.0, seconds / 20), until, samples)
            )
            load = await mixed_load(http, tokens, args.rate, seconds, pool)
            await restarts
            await sampler
            end_memory = stack.memory()
            # Give the last approvals a moment to land in the read model before counting.
            await asyncio.sleep(3)
            after = _request_counts(stack)
        warm = samples[1] if len(samples) > 1 else start_memory
        cache_size = _worker_setting(stack, "sticky_cache_size")
        # Full: within 1 % of the size (evictions under way leave a few places free).
        full = [
            life["rss_mib"]
            for life in lives
            if (life["cached_workflows"] or 0) >= 0.99 * cache_size
        ]
        return {
            "benchmark": "soak",
            "minutes": args.minutes,
            "rate_per_s": args.rate,
            "read_model": stack.database_url.split(":")[0],
            "load": load,
            "requests_started": sum(after.values()) - sum(before.values()),
            "requests_finished": after.get("APPROVED", 0) - before.get("APPROVED", 0),
            "requests_open_at_end": after.get("IN_PROGRESS", 0),
            "worker_restarts": stack.worker_restarts,
            "worker_exit_codes": stack.exits,
            "memory_start": start_memory,
            "memory_end": end_memory,
            "api_rss_growth_mib": round(end_memory["api_rss_mib"] - warm["api_rss_mib"], 1),
            "worker_rss_at_end_of_each_life": lives,
            "worker_sticky_cache_size": cache_size,
            # A leak grows across lives that end with the same (full) cache; a cache does not.
            "worker_rss_spread_over_full_cache_lives_mib": (
                round(max(full) - min(full), 1) if len(full) > 1 else None
            ),
            "memory_samples": samples,
            "target": "no errors but during restarts, p95 steady, memory growth flat",
            "kept": str(stack.scratch) if args.keep else None,
        }
    finally:
        await stack.stop(keep=args.keep)


def run() -> None:
    """Parse the arguments, run, print the JSON line, and exit without interpreter teardown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=34.0)
    parser.add_argument("--restart-every", type=float, default=5.0, help="minutes")
    parser.add_argument("--kill", action="store_true", help="SIGKILL the worker, not SIGTERM")
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the run's folder (the processes' log with every call's latency, databases)",
    )
    parser.add_argument(
        "--sticky-cache",
        type=int,
        default=0,
        help="the worker's sticky cache size (default: the worker's setting, 2000)",
    )
    args = parser.parse_args()
    if args.minutes <= 0 or args.rate <= 0 or args.restart_every <= 0:
        parser.error("--minutes, --rate and --restart-every must be positive")
    if args.sticky_cache < 0:
        parser.error("--sticky-cache must be 0 (the worker's default) or more")
    print(json.dumps(asyncio.run(main(args))), flush=True)
    # The Temporal client's threads can abort CPython's teardown (temporalio/sdk-python#300).
    os._exit(0)


if __name__ == "__main__":
    run()
