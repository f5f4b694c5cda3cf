"""The worker-scale bench's stack: one Temporal dev server, one Signoff SQL database, a client,
and real `signoff worker` processes on one task queue, started on demand and ready once
Temporal lists them among the pollers; the CPU they use, and what their metrics say of their
sticky cache."""

from __future__ import annotations

import asyncio
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import Engine
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.process_stats import CpuMeter
from devstack.temporal import installed_binary


@dataclass
class WorkerProcess:
    """One `signoff worker` process and its log."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The worker's process id (its Temporal identity is pid@host)."""
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM, as Kubernetes does, and wait for the graceful shutdown."""
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=60)


@dataclass
class Stack:
    """The dev server, the SQL database, the client and how to start workers."""

    client: Client
    server_pid: int
    queue: str
    environment: dict[str, str]
    scratch: Path
    engine: Engine
    workers: list[WorkerProcess]

    async def start_worker(self, **settings: str) -> WorkerProcess:
        """A `signoff worker` process, returned once Temporal lists it among the pollers."""
        signoff = installed_binary("signoff")
        assert signoff, "the signoff command is missing: pip install -e ."
        log = self.scratch / f"worker-{len(self.workers) + 1}.log"
        process = subprocess.Popen(
            [signoff, "worker"],
            env=self.environment | settings,
            cwd=self.scratch,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        worker = WorkerProcess(process, log)
        self.workers.append(worker)
        await self._wait_polling(worker)
        return worker

    async def _wait_polling(self, worker: WorkerProcess) -> None:
        request = DescribeTaskQueueRequest(
            namespace=self.client.namespace,
            task_queue=TaskQueue(name=self.queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        for _ in range(600):
            if worker.process.poll() is not None:
                raise RuntimeError(f"the worker exited: {worker.log.read_text()[-2000:]}")
            pollers = (await self.client.workflow_service.describe_task_queue(request)).pollers
            if any(p.identity.startswith(f"{worker.pid}@") for p in pollers):
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("the worker never polled its task queue")

    def cpu(self, workers: list[WorkerProcess]) -> CpuMeter:
        """A meter over the server, these workers and this process (the load generator)."""
        pids = {"temporal_server": self.server_pid, "load_generator": os.getpid()}
        pids |= {f"worker_{n}": w.pid for n, w in enumerate(workers, 1)}
        return CpuMeter(pids)


async def sticky_cache_size(http: httpx.AsyncClient, port: int) -> int | None:
    """Workflows in the worker's cache, from its Prometheus metrics (None if not exported)."""
    try:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    except httpx.HTTPError:
        return None
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("temporal_sticky_cache_size")
    ]
    return int(sum(values)) if values else None
