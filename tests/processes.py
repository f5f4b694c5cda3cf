"""Signoff processes that tests start, kill and restart: `signoff worker` and friends."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.api.conftest import spawn


@contextmanager
def stopped_on_exit(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """Yield the process; SIGTERM it on exit if still alive (SIGKILL if it lingers)."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def worker_process(
    env: WorkflowEnvironment, task_queue: str, database_url: str, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`signoff worker` as its own process; stopped with SIGTERM on exit if still alive."""
    environment = os.environ | {
        "SIGNOFF_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "SIGNOFF_TASK_QUEUE": task_queue,
        "SIGNOFF_DATABASE_URL": database_url,
        "SIGNOFF_WORKER_GRACEFUL_SHUTDOWN_SECONDS": "1",
    }
    with stopped_on_exit(spawn("worker", environment, log)) as process:
        yield process
