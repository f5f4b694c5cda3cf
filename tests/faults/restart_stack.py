"""The processes of the restart fault test: a dev server on a file, the API and the worker,
each SIGKILLed and started again, and bounded concurrent calls and waits."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from devstack.temporal import port_open, start_dev_server, wait_until_serving
from tests.api.conftest import free_port, spawn, wait_until_healthy
from tests.processes import stopped_on_exit

PARALLEL = 64
WAL_PRAGMAS = ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]

T = TypeVar("T")
A = TypeVar("A")


async def bounded(
    call: Callable[[A], Awaitable[T]], items: Sequence[A], parallel: int = PARALLEL
) -> list[T]:
    """`call` on every item concurrently, at most `parallel` at a time; results in order."""
    gate = asyncio.Semaphore(parallel)

    async def one(item: A) -> T:
        async with gate:
            return await call(item)

    return await asyncio.gather(*(one(item) for item in items))


async def wait_until(what: str, check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    """Poll `check` until it holds, failing with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.5)


async def sleep_until(moment: datetime) -> None:
    """Let wall-clock time pass up to `moment` (deadlines that must fall inside an outage)."""
    await asyncio.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


@dataclass
class DevServer:
    """A Temporal dev server on a SQLite file that can be SIGKILLed and started again."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """host:port of its frontend."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start it on its file and port and wait until it serves."""
        # WAL with synchronous=NORMAL: what a committed write survives is a process crash (the
        # SIGKILL here), not a power cut; with SQLite's default journal it is 2-3 times slower.
        self.process = start_dev_server(
            self.folder, port=self.port, ui_port=None, extra_args=WAL_PRAGMAS
        )
        assert self.process is not None, f"something else listens on {self.address}"
        await wait_until_serving(self.address, "default", seconds=60)

    def kill(self) -> None:
        """SIGKILL, and wait until the port is free again."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        deadline = time.monotonic() + 30
        while port_open("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "the killed dev server's port stays taken"
            time.sleep(0.1)


@pytest.fixture
async def dev_server(tmp_path: Path) -> AsyncIterator[DevServer]:
    """A dev server of this test's own on a file in the test's folder."""
    server = DevServer(folder=tmp_path / "temporal", port=free_port())
    await server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.process.terminate()
        server.process.wait(timeout=30)


@dataclass
class Faulty:
    """The processes under test, each restartable with the same environment."""

    env: dict[str, str]
    folder: Path
    url: str
    worker: subprocess.Popen[bytes] | None = None
    api: subprocess.Popen[bytes] | None = None

    def start_worker(self) -> None:
        """`signoff worker` on the test's queue."""
        self.worker = spawn("worker", self.env, self.folder / "worker.log")

    def start_api(self) -> None:
        """`signoff api`, waiting until it answers."""
        self.api = spawn("api", self.env, self.folder / "api.log")
        wait_until_healthy(self.url, self.api, self.folder / "api.log")

    @contextmanager
    def running(self) -> Iterator[Faulty]:
        """Yield; then stop the worker and API of the moment (restarts made new processes)."""
        try:
            yield self
        finally:
            for process in (self.worker, self.api):
                if process is not None:
                    with stopped_on_exit(process):
                        pass

    @staticmethod
    def kill(process: subprocess.Popen[bytes] | None) -> None:
        """SIGKILL one of them."""
        assert process is not None and process.poll() is None, "the process died by itself"
        process.send_signal(signal.SIGKILL)
        process.wait()
