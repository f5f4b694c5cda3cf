"""A worker process stops on SIGTERM: cleanly when the SDK stops, with code 3 when it hangs."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.processes import worker_process
from workers.serving import EXIT_STOP_STUCK, serve_until_signalled

ROOT = Path(__file__).resolve().parents[2]

# A worker whose shutdown never returns, as the SDK's once did after SIGTERM (workers/serving.py).
_STUCK_WORKER = """
import asyncio, logging, sys
from workers.serving import serve_until_signalled

class StuckWorker:
    async def run(self):
        print("polling", flush=True)
        await asyncio.Event().wait()

    async def shutdown(self):
        await asyncio.Event().wait()

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
asyncio.run(serve_until_signalled(StuckWorker(), float(sys.argv[1])))
"""


def _wait_for_line(process: subprocess.Popen[str], text: str) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert text in line, line


def test_a_worker_whose_shutdown_hangs_exits_with_code_3_at_the_deadline() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _STUCK_WORKER, "1.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_line(process, "polling")
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == EXIT_STOP_STUCK
    assert time.monotonic() - signalled >= 1.5
    assert "shutting down: finishing running activities" in stderr
    assert "did not stop within 2 s of the signal; exiting with code 3" in stderr


async def test_a_worker_that_fails_by_itself_raises_its_error() -> None:
    class FailingWorker:
        async def run(self) -> None:
            raise RuntimeError("lost the connection for good")

        async def shutdown(self) -> None:
            raise AssertionError("a failed worker is not shut down")

    with pytest.raises(RuntimeError, match="lost the connection"):
        await serve_until_signalled(FailingWorker(), 1.0)
    # The signal handlers are gone with it: SIGTERM is the default again for what runs next.
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


async def test_sigterm_stops_a_real_worker_cleanly(
    dev_env: WorkflowEnvironment, task_queue: str, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    with worker_process(dev_env, task_queue, database_url, log) as process:
        for _ in range(300):
            if "worker polling task queue" in log.read_text(errors="replace"):
                break
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 30)
    text = log.read_text(errors="replace")
    assert code == 0, text[-2000:]
    assert "shutting down: finishing running activities" in text
    assert "worker stopped" in text
    assert "did not stop within" not in text
