"""`signoff api` and `signoff worker` as processes on a throwaway dev server, for the API benches.

The stack is seeded with the mixed load's 100 orgs; its worker can be restarted (gracefully
or with SIGKILL) while the load runs, and each process's resident memory can be read.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from bench.mixed_load import SECRET, seed
from bench.process_stats import rss_bytes
from devstack.temporal import installed_binary, start_throwaway_server
from store.db import make_engine
from store.migrate import upgrade

TASK_QUEUE = "bench"


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB."""
    return round(rss_bytes(pid) / 2**20, 1)


@dataclass
class ApiStack:
    """A running dev server, a seeded Signoff database, an API process and a worker process."""

    scratch: Path
    temporal: WorkflowEnvironment
    database_url: str
    engine: Engine
    environment: dict[str, str]
    port: int
    logs: IO[bytes]
    worker: subprocess.Popen[bytes] | None = None
    api: subprocess.Popen[bytes] | None = None
    worker_restarts: int = 0
    exits: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """Where the API answers."""
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, command: str) -> subprocess.Popen[bytes]:
        signoff = installed_binary("signoff")
        assert signoff, "the signoff console script is installed with the project"
        return subprocess.Popen(
            [signoff, command], env=self.environment, stdout=self.logs, stderr=subprocess.STDOUT
        )

    def start_processes(self) -> None:
        """Start the worker and the API."""
        self.worker = self._spawn("worker")
        self.api = self._spawn("api")

    def restart_worker(self, *, kill: bool = False) -> None:
        """Stop the worker (SIGTERM, or SIGKILL when `kill`) and start a new one at once."""
        assert self.worker is not None
        self.worker.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.exits.append(self.worker.wait(timeout=120))
        self.worker = self._spawn("worker")
        self.worker_restarts += 1

    def memory(self) -> dict[str, float]:
        """Resident memory of the API and the worker, in MiB."""
        assert self.worker is not None and self.api is not None
        return {"api_rss_mib": rss_mib(self.api.pid), "worker_rss_mib": rss_mib(self.worker.pid)}

    async def stop(self, *, keep: bool = False) -> None:
        """Stop both processes, the database engine and the dev server; remove the scratch
        folder (a long run's is hundreds of MiB) unless `keep`."""
        for process in (self.worker, self.api):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (self.worker, self.api):
            if process is None:
                continue
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()  # a process stuck in shutdown must not keep the bench running
                process.wait()
        self.logs.close()
        self.engine.dispose()
        await self.temporal.shutdown()
        if not keep:
            shutil.rmtree(self.scratch, ignore_errors=True)


async def start_api_stack(
    database_url: str = "", extra_env: dict[str, str] | None = None
) -> ApiStack:
    """A dev server on a SQLite file, a migrated and seeded database, the API and the worker."""
    scratch = Path(tempfile.mkdtemp(prefix="signoff-bench-"))
    temporal = await start_throwaway_server("--db-filename", str(scratch / "temporal.db"))
    url = database_url or f"sqlite:///{scratch / 'signoff.db'}"
    upgrade(url)
    engine = make_engine(url)
    seed(engine)
    port = 18000 + os.getpid() % 1000
    environment = (
        os.environ
        | {
            "SIGNOFF_TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host,
            "SIGNOFF_DATABASE_URL": url,
            "SIGNOFF_DATA_DIR": str(scratch),
            "SIGNOFF_SECRET_KEY": SECRET,
            "SIGNOFF_API_PORT": str(port),
            "SIGNOFF_TASK_QUEUE": TASK_QUEUE,
            # 1,000 users share 127.0.0.1: per-IP limits would measure the limiter, not the API.
            "SIGNOFF_RATE_LIMIT_LOGIN_PER_IP": "10000000",
            "SIGNOFF_RATE_LIMIT_WRITES_PER_IP": "10000000",
            "SIGNOFF_RATE_LIMIT_WRITES_PER_USER": "10000000",
        }
        | (extra_env or {})
    )
    stack = ApiStack(
        scratch=scratch,
        temporal=temporal,
        database_url=url,
        engine=engine,
        environment=environment,
        port=port,
        logs=(scratch / "processes.log").open("ab"),
    )
    stack.start_processes()
    return stack
