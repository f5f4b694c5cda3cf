"""Approval throughput of one worker process versus two, and a worker's memory with many open
requests waiting on their timers.

Everything runs against one Temporal dev server of its own (a temporary SQLite file, Signoff's
search attributes registered) and one Signoff SQL database; the workers are real `signoff
worker` processes on the same task queue, the load comes from this process through the
Temporal client (update-with-start, then two approve updates, as the API does).

(a) N two-level requests with one worker, (b) the same with a second worker polling too, then
one worker again (its two runs are combined, so a server that slows as its history grows
weighs on both sides alike): requests/s and the ratio two/one. The CPU each process used in
each run (utime + stime from /proc) says where the limit is: on a machine with few cores the
Temporal server, the workers and the load generator compete for the same CPU.
(c) A fresh worker, then M requests whose levels have a 30-day TAT, so each waits on its
reminder timer: the worker's RSS before and after, and per open request. Workflows in the
worker's sticky cache (SIGNOFF_WORKER_STICKY_CACHE_SIZE, 2000 by default) hold their state
in memory; the others cost the worker nothing until a timer or a decision wakes them.
Prints one JSON line.

    .venv/bin/python bench/worker_scale.py [--requests 300] [--concurrency 20]
        [--open-requests 10000] [--sticky-cache-size N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, func, select  # noqa: E402
from temporalio.client import Client  # noqa: E402

from bench.mixed_load import template_row  # noqa: E402
from bench.process_stats import rss_bytes, wait_idle  # noqa: E402
from bench.worker_stack import Stack, WorkerProcess, sticky_cache_size  # noqa: E402
from clients.approvals import send_update, start_request  # noqa: E402
from clients.temporal import connect_temporal  # noqa: E402
from config.settings import Settings  # noqa: E402
from devstack.temporal import (  # noqa: E402
    register_search_attributes,
    start_dev_server,
    wait_until_serving,
)
from schemas.approval import ApprovalInput, ApproveInput  # noqa: E402
from store.db import make_engine, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.tables import Org, RequestRecord, Template, User  # noqa: E402
from store.upsert import insert_missing  # noqa: E402
from tests.factories import always_open_calendar, approval_input, level  # noqa: E402
from workflows.approval import ApprovalWorkflow  # noqa: E402

ORG = "wscale"
SECRET = "bench-secret-key-not-for-production"
CORES = os.cpu_count() or 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _mib(size: float) -> float:
    return round(size / 2**20, 1)


def seed(engine: Engine) -> None:
    """One org open around the clock with a requester, two approvers and the template."""
    now = datetime.now(UTC)
    calendar = always_open_calendar()
    org = {"id": ORG, "name": ORG, "calendar": calendar.model_dump(mode="json"), "created_at": now}
    users = [
        {
            "id": uid,
            "org_id": ORG,
            "email": f"{uid}@bench.test",
            "name": uid,
            "roles": ["USER"],
            "active": True,
            "failed_logins": 0,
            "created_at": now,
        }
        for uid in ("rita", "mia", "fay")
    ]
    body = _input(8).template.model_dump(mode="json")
    template = template_row(ORG, "purchase", body, now)
    with transaction(engine) as session:
        insert_missing(session, Org, [org], ["id"])
        insert_missing(session, User, users, ["id"])
        insert_missing(session, Template, [template], ["org_id", "key", "version"])


def _input(hours: float) -> ApprovalInput:
    return approval_input(
        [level("Manager", ["mia"], hours=hours), level("Finance", ["fay"], hours=hours)],
        calendar=always_open_calendar(),
        org_id=ORG,
    )


QUICK, WAITING = _input(8), _input(24 * 30)


async def _approve_twice(client: Client, queue: str) -> None:
    handle, _opened = await start_request(client, queue, QUICK)
    await send_update(handle, ApprovalWorkflow.approve, ApproveInput(actor="mia"))
    await send_update(handle, ApprovalWorkflow.approve, ApproveInput(actor="fay"))
    await handle.result()


async def _in_parallel(
    work: Callable[[int], Awaitable[None]], count: int, width: int
) -> dict[str, int]:
    """`count` calls of `work`, `width` at a time; failures are counted by kind, not raised.

    An overloaded server or worker refuses or aborts updates (a workflow task that timed out
    is retried, and updates are refused meanwhile): that is a result, not a crash.
    """
    gate = asyncio.Semaphore(width)
    errors: dict[str, int] = {}

    async def one(i: int) -> None:
        async with gate:
            try:
                await work(i)
            except Exception as error:
                kind = f"{type(error).__name__}: {error}"[:100]
                errors[kind] = errors.get(kind, 0) + 1

    await asyncio.gather(*(one(i) for i in range(count)))
    return errors


async def throughput(stack: Stack, workers: list[WorkerProcess], count: int, width: int) -> Any:
    """Requests/s of `count` start + two approvals at `width` in flight, with their CPU."""
    with stack.cpu(workers) as meter:
        errors = await _in_parallel(
            lambda _: _approve_twice(stack.client, stack.queue), count, width
        )
    done = count - sum(errors.values())
    return {
        "requests_per_s": round(done / meter.wall, 2),
        "cpu_cores": meter.cores(),
        "cpu_ms_per_request": meter.per_item(max(done, 1)),
        "failed": errors,
    }


def open_requests(engine: Engine) -> int:
    """Requests of the bench org the read model holds as IN_PROGRESS."""
    with engine.connect() as connection:
        query = select(func.count()).where(
            RequestRecord.org_id == ORG,  # type: ignore[arg-type]
            RequestRecord.status == "IN_PROGRESS",  # type: ignore[arg-type]
        )
        return int(connection.execute(query).scalar_one())


async def scaling(stack: Stack, requests: int, width: int) -> dict[str, Any]:
    """(a) one worker, (b) two workers, then one again; the ratio two/one."""
    first = await stack.start_worker()
    await _in_parallel(lambda _: _approve_twice(stack.client, stack.queue), 20, 10)
    one_before = await throughput(stack, [first], requests // 2, width)
    second = await stack.start_worker()
    # Both workers' sandboxes warm before measuring.
    await _in_parallel(lambda _: _approve_twice(stack.client, stack.queue), 20, 10)
    two = await throughput(stack, [first, second], requests, width)
    second.stop()
    one_after = await throughput(stack, [first], requests - requests // 2, width)
    first.stop()
    rates = (one_before["requests_per_s"], one_after["requests_per_s"])
    one = 2 / (1 / rates[0] + 1 / rates[1])
    busy = two["cpu_cores"]["machine"]
    biggest = max(
        (k for k in two["cpu_cores"] if k not in ("machine", "others")),
        key=lambda k: two["cpu_cores"][k],
    )
    return {
        "one_worker_per_s": round(one, 2),
        "two_workers_per_s": two["requests_per_s"],
        "ratio_two_to_one": round(two["requests_per_s"] / one, 3),
        "one_worker": {"before": one_before, "after": one_after},
        "two_workers": two,
        "limit": (
            f"two workers: the machine's {CORES} cores were {busy / CORES:.0%} busy, "
            f"{two['cpu_cores']['others']} cores of it by other processes; of this run's "
            f"processes {biggest} used the most ({two['cpu_cores'][biggest]} cores)"
        ),
    }


async def memory(stack: Stack, count: int, width: int, cache: str) -> dict[str, Any]:
    """(c) A fresh worker's RSS before and after `count` requests wait on their timers."""
    port = _free_port()
    settings = {"SIGNOFF_WORKER_METRICS_PORT": str(port)}
    if cache:
        settings["SIGNOFF_WORKER_STICKY_CACHE_SIZE"] = cache
    worker = await stack.start_worker(**settings)
    await _in_parallel(lambda _: _approve_twice(stack.client, stack.queue), 20, 10)
    await wait_idle(worker.pid)
    before = rss_bytes(worker.pid)
    server_before = rss_bytes(stack.server_pid)
    samples: list[dict[str, Any]] = []
    step = max(1, count // 10)
    opened = 0

    async with httpx.AsyncClient(timeout=5) as http:

        async def open_one(_: int) -> None:
            nonlocal opened
            await start_request(stack.client, stack.queue, WAITING)
            opened += 1
            if opened % step == 0:
                sample = {
                    "open": opened,
                    "worker_rss_mib": _mib(rss_bytes(worker.pid)),
                    "cached": await sticky_cache_size(http, port),
                }
                samples.append(sample)
                print(json.dumps(sample), file=sys.stderr, flush=True)

        with stack.cpu([worker]) as meter:
            refused = await _in_parallel(open_one, count, width)
        # The assignment notifications run after each start has answered.
        await wait_idle(worker.pid)
        after = rss_bytes(worker.pid)
        cached = await sticky_cache_size(http, port)
    waiting = open_requests(stack.engine)
    worker.stop()
    grown = after - before
    return {
        "open_requests": count,
        "open_in_read_model": waiting,
        "tat_hours": WAITING.template.levels[0].tat.hours,
        "sticky_cache_size_setting": int(cache) if cache else Settings().worker_sticky_cache_size,
        "workflows_in_cache": cached,
        "worker_rss_mib_before": _mib(before),
        "worker_rss_mib_after": _mib(after),
        "worker_rss_bytes_per_open_request": round(grown / max(waiting, 1)),
        "worker_rss_bytes_per_cached_workflow": round(grown / cached) if cached else None,
        "server_rss_mib_before_after": [_mib(server_before), _mib(rss_bytes(stack.server_pid))],
        "samples": samples,
        "opened_per_s": round(opened / meter.wall, 2),
        "failed_to_open": refused,
        "opening_cpu_cores": meter.cores(),
        "opening_cpu_ms_per_request": meter.per_item(max(opened, 1)),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Start the dev server and the database, run (a), (b) and (c), stop everything."""
    with tempfile.TemporaryDirectory(prefix="signoff-worker-scale-") as folder:
        scratch = Path(folder)
        port = _free_port()
        address = f"127.0.0.1:{port}"
        server = start_dev_server(scratch / "temporal", port=port, ui_port=None)
        assert server is not None
        url = args.database_url or f"sqlite:///{scratch / 'signoff.db'}"
        upgrade(url)
        engine = make_engine(url)
        seed(engine)
        queue = "worker-scale"
        environment = os.environ | {
            "SIGNOFF_TEMPORAL_ADDRESS": address,
            "SIGNOFF_DATABASE_URL": url,
            "SIGNOFF_DATA_DIR": str(scratch / "signoff"),
            "SIGNOFF_SECRET_KEY": SECRET,
            "SIGNOFF_TASK_QUEUE": queue,
            "SIGNOFF_WORKER_METRICS_PORT": "0",
            "SIGNOFF_WORKER_GRACEFUL_SHUTDOWN_SECONDS": "5",
        }
        workers: list[WorkerProcess] = []
        try:
            await wait_until_serving(address, "default", seconds=60)
            client = await connect_temporal(Settings(temporal_address=address))
            added = await register_search_attributes(client, "default")
            stack = Stack(client, server.pid, queue, environment, scratch, engine, workers)
            figures: dict[str, Any] = {
                "benchmark": "worker_scale",
                "cores": CORES,
                "temporal": "dev server, SQLite file",
                "read_model": url.split(":", 1)[0],
                "requests": args.requests,
                "concurrency": args.concurrency,
                "search_attributes_added_late": added,
            }
            figures["scaling"] = await scaling(stack, args.requests, args.concurrency)
            print(json.dumps(figures["scaling"]), file=sys.stderr, flush=True)
            figures["memory"] = await memory(
                stack, args.open_requests, args.concurrency, args.sticky_cache_size
            )
            return figures
        except BaseException:
            for worker in workers:
                print(f"--- {worker.log.name}", worker.log.read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            for worker in workers:
                worker.stop()
            server.terminate()
            server.wait(timeout=60)
            engine.dispose()


def run() -> None:
    """Parse the arguments, run, print the JSON line, and exit without interpreter teardown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="(a) and (b)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--open-requests", type=int, default=10_000, help="(c)")
    parser.add_argument(
        "--sticky-cache-size", default="", help="(c) SIGNOFF_WORKER_STICKY_CACHE_SIZE"
    )
    parser.add_argument("--database-url", default="", help="Read model (default: a SQLite file)")
    args = parser.parse_args()
    try:
        print(json.dumps(asyncio.run(main(args))), flush=True)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    # The Temporal client's threads can abort CPython's teardown (temporalio/sdk-python#300).
    os._exit(0)


if __name__ == "__main__":
    run()
