"""Requests per second through ApprovalWorkflow versus a bare two-signal workflow.

All loads run in the same process, against the same Temporal dev server, with the same
worker settings. N bare workflows are started and sent two signals (the baseline). N
Signoff requests of two approval levels each are started and approved through the client
twice over: as the API does it (update-with-start returning the opened state, then two
approve updates that each answer with the new state) and fire-and-forget (start, then two
`decide` signals, as e-mail replies do). Both write the SQL read model on every transition.
Prints one JSON line.

    .venv/bin/python bench/approval_throughput.py [--requests 300] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from bench.baseline_workflow import BareTwoSignalWorkflow  # noqa: E402
from clients.approvals import send_update, start_request  # noqa: E402
from config.settings import Settings  # noqa: E402
from devstack.temporal import start_throwaway_server  # noqa: E402
from schemas.approval import ApproveInput, DecisionSignal  # noqa: E402
from store.db import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from tests.factories import always_open_calendar, approval_input, level  # noqa: E402
from workers.approval_worker import build_worker  # noqa: E402
from workflows.approval import ApprovalWorkflow  # noqa: E402


async def _bare(client: Client, queue: str, _: int) -> None:
    handle = await client.start_workflow(
        BareTwoSignalWorkflow.run, id=f"bare-{uuid.uuid4()}", task_queue=queue
    )
    await handle.signal(BareTwoSignalWorkflow.approve)
    await handle.signal(BareTwoSignalWorkflow.approve)
    await handle.result()


INPUT = approval_input(
    [level("Manager", ["mia"], hours=8), level("Finance", ["fay"], hours=8)],
    calendar=always_open_calendar(),
)


async def _signoff_signals(client: Client, queue: str, _: int) -> None:
    handle = await client.start_workflow(
        ApprovalWorkflow.run, INPUT, id=f"bench-{uuid.uuid4()}", task_queue=queue
    )
    await handle.signal(ApprovalWorkflow.decide, DecisionSignal(actor="mia", kind="approve"))
    await handle.signal(ApprovalWorkflow.decide, DecisionSignal(actor="fay", kind="approve"))
    await handle.result()


async def _signoff(client: Client, queue: str, _: int) -> None:
    handle, _opened = await start_request(client, queue, INPUT)
    await send_update(handle, ApprovalWorkflow.approve, ApproveInput(actor="mia"))
    await send_update(handle, ApprovalWorkflow.approve, ApproveInput(actor="fay"))
    await handle.result()


async def _rate(
    run_one: Callable[[Client, str, int], Awaitable[None]],
    client: Client,
    queue: str,
    count: int,
    concurrency: int,
) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await run_one(client, queue, i)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.perf_counter() - started)


async def main(
    requests: int, concurrency: int, in_memory: bool, database_url: str
) -> dict[str, object]:
    """Run both loads and return the figures."""
    with tempfile.TemporaryDirectory() as scratch:
        db_args = [] if in_memory else ["--db-filename", str(Path(scratch) / "temporal.db")]
        env = await start_throwaway_server(*db_args)
        url = database_url or f"sqlite:///{Path(scratch) / 'signoff.db'}"
        upgrade(url)
        engine = make_engine(url)
        settings = Settings(worker_activity_threads=16)
        queue = f"bench-{uuid.uuid4()}"
        try:
            with ThreadPoolExecutor(settings.worker_activity_threads) as pool:
                signoff_worker = build_worker(env.client, settings, engine, pool, queue)
                bare_worker = Worker(
                    env.client,
                    task_queue=queue + "-bare",
                    workflows=[BareTwoSignalWorkflow],
                    max_cached_workflows=settings.worker_sticky_cache_size,
                )
                async with signoff_worker, bare_worker:
                    # Warm both paths up, then alternate the measured runs.
                    await _rate(_bare, env.client, queue + "-bare", 20, 10)
                    await _rate(_signoff, env.client, queue, 20, 10)
                    # The baseline runs before and after, so a server that slows down as
                    # its history grows weighs on both sides alike.
                    bare_before = await _rate(
                        _bare, env.client, queue + "-bare", requests // 2, concurrency
                    )
                    signoff = await _rate(_signoff, env.client, queue, requests, concurrency)
                    by_signal = await _rate(
                        _signoff_signals, env.client, queue, requests, concurrency
                    )
                    bare_after = await _rate(
                        _bare, env.client, queue + "-bare", requests - requests // 2, concurrency
                    )
                    bare = 2 / (1 / bare_before + 1 / bare_after)
        finally:
            engine.dispose()
            await env.shutdown()
    return {
        "benchmark": "approval_throughput",
        "requests": requests,
        "concurrency": concurrency,
        "temporal": "dev server, " + ("in memory" if in_memory else "SQLite file"),
        "read_model": url.split(":", 1)[0],
        "bare_workflows_per_s": round(bare, 1),
        "bare_before_after_per_s": [round(bare_before, 1), round(bare_after, 1)],
        "signoff_requests_per_s": round(signoff, 1),
        "ratio": round(signoff / bare, 3),
        "signoff_by_signal_per_s": round(by_signal, 1),
        "ratio_by_signal": round(by_signal / bare, 3),
        "target_ratio": 0.6,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--in-memory", action="store_true", help="Temporal without its SQLite file")
    parser.add_argument("--database-url", default="", help="Read model (default: a SQLite file)")
    args = parser.parse_args()
    figures = asyncio.run(main(args.requests, args.concurrency, args.in_memory, args.database_url))
    print(json.dumps(figures))
