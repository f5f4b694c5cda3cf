"""The API under test as it runs for real: `signoff api` and `signoff worker` processes on the
test dev server and database, reached over HTTP."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.security import hash_password
from devstack.demo import DEMO_PASSWORD, seed_demo
from devstack.temporal import installed_binary
from store.db import transaction
from store.tables import Org, User
from store.upsert import insert_missing

SECRET = "test-secret-key-for-signoff-api-tests-only"
# One key ring for every stack on the shared test database, as every replica shares one.
ENCRYPTION_KEYS = "test:" + base64.urlsafe_b64encode(b"signoff-api-tests-aes-256-key-32").decode()
OTHER_ORG = "globex"
OTHER_USERS = [
    ("globex-admin", "admin@globex.test", ["ADMIN"]),
    ("globex-user", "user@globex.test", ["USER", "team-lead"]),
]


RATE_LIMITS = (
    "LOGIN_PER_IP",
    "LOGIN_PER_EMAIL",
    "REFRESH_PER_IP",
    "WRITES_PER_USER",
    "WRITES_PER_IP",
)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Block until GET {url}/health/live answers, or fail with the process's log."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the process exited:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"never became healthy:\n{log.read_text()[-4000:]}")


@dataclass
class Stack:
    """A running API (and worker) with what tests need to reach and inspect it."""

    url: str
    env: dict[str, str]
    api_log: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        """SIGTERM every process, then wait."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def spawn(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Run `signoff <command>` with this environment, output to a log file."""
    signoff = installed_binary("signoff")
    assert signoff
    return subprocess.Popen(
        [signoff, command], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


def stack_env(
    dev_env: WorkflowEnvironment, database_url: str, folder: Path, **extra: str
) -> dict[str, str]:
    """The SIGNOFF_* environment of a test stack."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    return (
        environment
        | {
            "SIGNOFF_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
            "SIGNOFF_TASK_QUEUE": f"api-{uuid.uuid4().hex[:8]}",
            "SIGNOFF_DATABASE_URL": database_url,
            "SIGNOFF_DATA_DIR": str(folder),
            "SIGNOFF_SECRET_KEY": SECRET,
            "SIGNOFF_ENCRYPTION_KEYS": ENCRYPTION_KEYS,
            "SIGNOFF_API_PORT": str(port),
            "SIGNOFF_UPLOAD_MAX_BYTES": str(2 * 1024 * 1024),
            "SIGNOFF_INVOICE_MAX_BYTES": str(2 * 1024 * 1024),
            "SIGNOFF_SIGNED_URL_SECONDS": "3",
            "SIGNOFF_WORKER_GRACEFUL_SHUTDOWN_SECONDS": "1",
            # Tests run their webhook receivers and SMTP catcher on loopback.
            "SIGNOFF_WEBHOOK_ALLOW_PRIVATE": "true",
            "SIGNOFF_WEBHOOK_MAX_ATTEMPTS": "2",
            "SIGNOFF_WEBHOOK_FIRST_RETRY_SECONDS": "0.2",
            "SIGNOFF_WEBHOOK_TIMEOUT_SECONDS": "3",
            "SIGNOFF_OUTBOX_DIR": str(folder / "outbox"),
            # Every test logs in and writes from 127.0.0.1: limits stay on (counted in SQL) but
            # out of reach; tests/api/test_rate_limits.py sets its own.
            **{f"SIGNOFF_RATE_LIMIT_{name}": "1000000" for name in RATE_LIMITS},
        }
        | extra
    )


def start_stack(env: dict[str, str], folder: Path, *, worker: bool = True) -> Stack:
    """Start the API (and a worker on its task queue) and wait until it answers."""
    url = f"http://127.0.0.1:{env['SIGNOFF_API_PORT']}"
    stack = Stack(url=url, env=env, api_log=folder / "api.log")
    if worker:
        stack.processes.append(spawn("worker", env, folder / "worker.log"))
    api = spawn("api", env, stack.api_log)
    stack.processes.append(api)
    try:
        wait_until_healthy(url, api, stack.api_log)
    except BaseException:
        stack.stop()
        raise
    return stack


def seed_orgs(engine: Engine) -> None:
    """The demo org Acme and a second org, Globex, to prove tenants never meet."""
    seed_demo(engine)
    now = datetime.now(UTC)
    hashed = hash_password(DEMO_PASSWORD)
    with transaction(engine) as session:
        insert_missing(
            session,
            Org,
            [{"id": OTHER_ORG, "name": "Globex", "calendar": {}, "created_at": now}],
            ["id"],
        )
        insert_missing(
            session,
            User,
            [
                {
                    "id": uid,
                    "org_id": OTHER_ORG,
                    "email": email,
                    "name": uid,
                    "roles": roles,
                    "active": True,
                    "password_hash": hashed,
                    "failed_logins": 0,
                    "created_at": now,
                }
                for uid, email, roles in OTHER_USERS
            ],
            ["id"],
        )


@pytest.fixture(scope="session")
def stack(
    dev_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """The API and a worker on the local object store, shared by the API tests."""
    seed_orgs(engine)
    folder = tmp_path_factory.mktemp("stack")
    running = start_stack(stack_env(dev_env, database_url, folder), folder)
    yield running
    running.stop()


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the API."""
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        yield client


async def login(
    http: httpx.AsyncClient, email: str, password: str = DEMO_PASSWORD
) -> dict[str, str]:
    """Authorization headers for a user."""
    response = await http.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# Logins cost an argon2 hash each; demo users' tokens are reused for a while.
_TOKENS: dict[str, tuple[float, dict[str, str]]] = {}


async def as_user(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    """Authorization headers of a demo user, logging in again every few minutes."""
    cached = _TOKENS.get(email)
    if cached is not None and time.monotonic() - cached[0] < 300:
        return cached[1]
    headers = await login(http, email)
    _TOKENS[email] = (time.monotonic(), headers)
    return headers


async def start_purchase(
    http: httpx.AsyncClient, headers: dict[str, str], amount: str = "2500", **extra: object
) -> dict[str, object]:
    """Start a purchase request of the demo org; its JSON."""
    body = {"template_key": "purchase", "title": "Laptop", "amount": amount, "currency": "EUR"}
    response = await http.post("/api/v1/requests", json=body | extra, headers=headers)
    assert response.status_code == 201, response.text
    started: dict[str, object] = response.json()
    return started
