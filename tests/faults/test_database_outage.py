"""PostgreSQL stopped for 30 s under a light load: the API answers 503 (readiness and writes,
with Retry-After, never a 500), the worker keeps running, and once the database is back the API
recovers by itself and nothing answered 2xx or started is lost."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from devstack.demo import seed_demo
from store.db import make_engine
from store.migrate import upgrade
from store.tables import RequestRecord
from tests.api.conftest import Stack, free_port, login, stack_env, start_stack

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 30
PURCHASE = {"template_key": "purchase", "title": "Desk", "amount": "100", "currency": "EUR"}


@dataclass
class Postgres:
    """A PostgreSQL cluster of the test's own, run as the postgres user, stoppable at will."""

    bin: Path
    folder: Path
    port: int

    @property
    def url(self) -> str:
        """The Signoff database on it."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/signoff"

    def ctl(self, *args: str) -> None:
        """pg_ctl on the cluster, as the postgres user (it refuses to run as root)."""
        command = [str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        """Start on its port, waiting until it accepts connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.ctl("-o", options, "-l", str(self.folder / "postgres.log"), "-w", "start")

    def stop(self) -> None:
        """Stop at once (connections are cut), waiting until it is down."""
        self.ctl("-m", "fast", "-w", "stop")


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    """initdb into a temp folder, start it, create the database; stopped after the test."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb cannot run as root")
    # Outside pytest's folders, which only their owner may enter.
    folder = Path(tempfile.mkdtemp(prefix="signoff-faults-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    server = Postgres(bin=Path(found[-1]).parent, folder=folder, port=free_port())
    initdb = [str(server.bin / "initdb"), "-D", str(folder / "data"), "-U", "postgres"]
    initdb += ["--auth=trust", "--no-sync"]
    if os.geteuid() == 0:
        initdb = ["runuser", "-u", "postgres", "--", *initdb]
    try:
        subprocess.run(initdb, check=True, capture_output=True, timeout=120)
        server.start()
        admin = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE signoff")
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def _write(http: httpx.AsyncClient, headers: dict[str, str], key: str) -> httpx.Response:
    """Start a purchase request (the write under load), with an Idempotency-Key."""
    return await http.post(
        "/api/v1/requests", json=PURCHASE, headers=headers | {"Idempotency-Key": key}
    )


def _assert_outage_answer(response: httpx.Response) -> None:
    """During the outage: a 503 problem with Retry-After (or a 2xx from a cached answer)."""
    if response.is_success:
        return
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json", response.text
    assert response.headers.get("retry-after"), response.headers
    assert "database" in response.json()["detail"]


async def _wait_ready(http: httpx.AsyncClient, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (await http.get("/health/ready")).status_code != 200:
        assert time.monotonic() < deadline, "the API never became ready again by itself"
        await asyncio.sleep(0.5)


async def _approve(http: httpx.AsyncClient, headers: dict[str, str], request_id: str) -> None:
    """Approve, waiting for the request's row (the read model is written just after a start)."""
    deadline = time.monotonic() + 60
    while True:
        answer = await http.post(f"/api/v1/requests/{request_id}/approve", json={}, headers=headers)
        if answer.status_code != 404:
            break
        assert time.monotonic() < deadline, f"{request_id} never reached the read model"
        await asyncio.sleep(0.5)
    assert answer.status_code == 200, answer.text


@pytest.mark.timeout(400)
async def test_a_database_outage_answers_503_and_loses_nothing(
    postgres: Postgres, dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    upgrade(postgres.url)
    engine: Engine = make_engine(postgres.url, pool_size=2)
    seed_demo(engine)
    stack: Stack = start_stack(stack_env(dev_env, postgres.url, tmp_path), tmp_path)
    worker = stack.processes[0]
    accepted: list[str] = []  # request ids of writes answered 2xx
    try:
        async with httpx.AsyncClient(base_url=stack.url, timeout=30) as http:
            rita = await login(http, "rita@acme.test")
            alice = await login(http, "alice@acme.test")
            run = uuid.uuid4().hex[:8]

            async def write(n: int) -> httpx.Response:
                response = await _write(http, rita, f"{run}-{n}")
                if response.is_success:
                    accepted.append(response.json()["request"]["request_id"])
                return response

            for n in range(5):
                assert (await write(n)).status_code == 201
            assert (await http.get("/health/ready")).status_code == 200

            postgres.stop()
            outage_ends = time.monotonic() + OUTAGE_SECONDS
            ready = await http.get("/health/ready")
            assert ready.status_code == 503, ready.text
            assert ready.json()["checks"]["sql"].startswith("down")
            n = 5
            while time.monotonic() < outage_ends:  # the light load goes on, bounded by time
                _assert_outage_answer(await write(n))
                listed = await http.get("/api/v1/requests", headers=rita)
                _assert_outage_answer(listed)
                n += 1
                await asyncio.sleep(1)
            assert len(accepted) == 5, "a write answered 2xx while the database was down"
            assert worker.poll() is None, "the worker died with the database"
            postgres.start()

            await _wait_ready(http, 60)
            for m in range(n, n + 5):
                assert (await write(m)).status_code == 201
            # A retry of a write refused during the outage works now, once.
            again = await _write(http, rita, f"{run}-5")
            assert again.status_code == 201, again.text
            accepted.append(again.json()["request"]["request_id"])
            assert len(set(accepted)) == len(accepted) == 11

            for request_id in accepted:  # every started request finishes
                await _approve(http, alice, request_id)

        deadline = time.monotonic() + 120
        while True:
            with Session(engine) as session:
                rows = session.exec(
                    select(RequestRecord.id, RequestRecord.status).where(
                        col(RequestRecord.id).in_(accepted)
                    )
                ).all()
            if sorted(rows) == sorted((r, "APPROVED") for r in accepted):
                break
            assert time.monotonic() < deadline, f"the read model never caught up: {rows}"
            await asyncio.sleep(0.5)
        assert worker.poll() is None, "the worker died"
    finally:
        stack.stop()
        engine.dispose()
