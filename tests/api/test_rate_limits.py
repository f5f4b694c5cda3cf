"""Rate limits over real HTTP: two API replicas share counters (SQL, or Redis), 429 with
Retry-After past a limit, per user apart from per IP, and a counter store that is down.

Callers are told apart by X-Forwarded-For (uvicorn trusts it from 127.0.0.1), so each test
counts on addresses of its own; the window is a day long so no test straddles two windows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
import redis
from sqlalchemy import Engine, text
from temporalio.testing import WorkflowEnvironment

from api.security import hash_password
from devstack.demo import DEMO_PASSWORD
from store.db import transaction
from store.tables import User
from tests.api.conftest import Stack, free_port, seed_orgs, stack_env, start_stack

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
REDIS_URL = "redis://127.0.0.1:6379/0"
DAY = "86400"
LIMITS = {
    "SIGNOFF_RATE_LIMIT_WINDOW_SECONDS": DAY,
    "SIGNOFF_RATE_LIMIT_LOGIN_PER_IP": "4",
    "SIGNOFF_RATE_LIMIT_LOGIN_PER_EMAIL": "3",
    "SIGNOFF_RATE_LIMIT_REFRESH_PER_IP": "2",
    "SIGNOFF_RATE_LIMIT_WRITES_PER_USER": "3",
    "SIGNOFF_RATE_LIMIT_WRITES_PER_IP": "6",
}


def _ip() -> dict[str, str]:
    """A caller address of its own (TEST-NET-3 plus random octets)."""
    raw = uuid.uuid4().bytes
    return {"X-Forwarded-For": f"10.{raw[0]}.{raw[1]}.{raw[2]}"}


def _nobody() -> str:
    """An e-mail nobody has (and no earlier run counted against: Redis keeps counters a day)."""
    return f"nobody-{uuid.uuid4().hex[:10]}@acme.test"


def _user(engine: Engine) -> str:
    """A fresh acme user with the demo password: nobody else counts against it."""
    uid = f"rl-{uuid.uuid4().hex[:10]}"
    with transaction(engine) as session:
        session.add(
            User(
                id=uid,
                org_id="acme",
                email=f"{uid}@acme.test",
                name=uid,
                roles=["USER"],
                password_hash=hash_password(DEMO_PASSWORD),
                created_at=datetime.now(UTC),
            )
        )
    return f"{uid}@acme.test"


def _refused(response: httpx.Response, what: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert what in response.json()["detail"]
    assert 1 <= int(response.headers["retry-after"]) <= int(DAY)


async def _login(url: str, email: str, headers: dict[str, str], password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post(
            TOKEN, json={"email": email, "password": password}, headers=headers
        )


async def _token(url: str, email: str) -> dict[str, str]:
    response = await _login(url, email, _ip(), DEMO_PASSWORD)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _write(url: str, headers: dict[str, str]) -> httpx.Response:
    """A cheap write (a comment on a missing request: 404), counted like any other."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post(
            "/api/v1/requests/missing-request/comments", json={"text": "hi"}, headers=headers
        )


@pytest.fixture(scope="module")
def seeded(engine: Engine) -> Engine:
    """The demo orgs in the shared database."""
    seed_orgs(engine)
    return engine


@pytest.fixture(scope="module")
def start_api(
    seeded: Engine,
    dev_env: WorkflowEnvironment,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., Stack]]:
    """Starts API processes (no worker) with LIMITS on the shared database; stops them all."""
    running: list[Stack] = []

    def start(name: str, **settings: str) -> Stack:
        folder = tmp_path_factory.mktemp(name)
        env = stack_env(dev_env, database_url, folder, **(LIMITS | settings))
        running.append(start_stack(env, folder, worker=False))
        return running[-1]

    yield start
    for stack in running:
        stack.stop()


@pytest.fixture(scope="module")
def replicas(start_api: Callable[..., Stack]) -> tuple[Stack, Stack]:
    """Two replicas counting in SQL."""
    return start_api("replica-a"), start_api("replica-b")


async def test_two_replicas_share_the_login_counter_of_an_address(
    replicas: tuple[Stack, Stack],
) -> None:
    replica_a, replica_b = replicas
    address = _ip()
    for attempt in range(4):  # alternating replicas, each a different unknown e-mail
        url = (replica_a, replica_b)[attempt % 2].url
        response = await _login(url, _nobody(), address, "wrong")
        assert response.status_code == 401, response.text
    for replica in (replica_a, replica_b):
        _refused(
            await _login(replica.url, _nobody(), address, "wrong"),
            "login attempts from this address",
        )
    # Another address is not affected.
    other = await _login(replica_b.url, _nobody(), _ip(), "wrong")
    assert other.status_code == 401


async def test_login_attempts_for_one_email_are_limited_from_any_address(
    replicas: tuple[Stack, Stack], seeded: Engine
) -> None:
    replica_a, replica_b = replicas
    email = _user(seeded)
    for attempt in range(3):
        url = (replica_a, replica_b)[attempt % 2].url
        assert (await _login(url, email, _ip(), "wrong")).status_code == 401
    # Even the right password from a fresh address waits now.
    _refused(
        await _login(replica_a.url, email, _ip(), DEMO_PASSWORD), "login attempts for this user"
    )


async def test_refreshes_are_limited_per_address(replicas: tuple[Stack, Stack]) -> None:
    replica_a, replica_b = replicas
    address = _ip()
    async with httpx.AsyncClient(timeout=30) as client:
        for url in (replica_a.url, replica_b.url):
            response = await client.post(
                url + REFRESH, json={"refresh_token": "not-a-token"}, headers=address
            )
            assert response.status_code == 401, response.text
        refused = await client.post(
            replica_a.url + REFRESH, json={"refresh_token": "not-a-token"}, headers=address
        )
    _refused(refused, "token refreshes from this address")


async def test_writes_are_limited_per_user_and_per_address(
    replicas: tuple[Stack, Stack], seeded: Engine
) -> None:
    replica_a, replica_b = replicas
    first, second = (
        await _token(replica_a.url, _user(seeded)),
        await _token(replica_b.url, _user(seeded)),
    )
    shared = _ip()
    for attempt in range(3):  # the first user's budget, spent on both replicas
        url = (replica_a, replica_b)[attempt % 2].url
        assert (await _write(url, first | shared)).status_code == 404
    _refused(await _write(replica_b.url, first | shared), "changes by this user")
    # The user limit follows the user to any address.
    _refused(await _write(replica_a.url, first | _ip()), "changes by this user")
    # The second user has a budget of their own, but the shared address has two hits left.
    for url in (replica_a.url, replica_b.url):
        assert (await _write(url, second | shared)).status_code == 404
    _refused(await _write(replica_a.url, second | shared), "changes from this address")
    # Someone else elsewhere still writes (refused hits counted too: the second user is done).
    third = await _token(replica_b.url, _user(seeded))
    assert (await _write(replica_b.url, third | _ip())).status_code == 404
    _refused(await _write(replica_b.url, second | _ip()), "changes by this user")
    # Reads are never counted.
    async with httpx.AsyncClient(base_url=replica_a.url, timeout=30) as client:
        for _ in range(8):
            assert (await client.get("/api/v1/me", headers=first | shared)).status_code == 200


async def test_concurrent_logins_on_two_replicas_never_exceed_the_limit(
    replicas: tuple[Stack, Stack],
) -> None:
    replica_a, replica_b = replicas
    address = _ip()
    responses = await asyncio.gather(
        *(_login((replica_a, replica_b)[i % 2].url, _nobody(), address, "wrong") for i in range(10))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 4 + [429] * 6


# ---- Redis, and a store that is down -----------------------------------------------------------


def _redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")
    return client


@pytest.fixture(scope="module")
def redis_replicas(start_api: Callable[..., Stack]) -> tuple[Stack, Stack]:
    """Two replicas counting in Redis."""
    _redis_or_skip()
    settings = {"SIGNOFF_RATE_LIMIT_REDIS_URL": REDIS_URL}
    return start_api("redis-a", **settings), start_api("redis-b", **settings)


async def test_redis_counters_are_shared_and_expire(
    redis_replicas: tuple[Stack, Stack], engine: Engine
) -> None:
    address = _ip()
    ip = address["X-Forwarded-For"]
    for attempt in range(4):
        url = redis_replicas[attempt % 2].url
        assert (await _login(url, _nobody(), address, "wrong")).status_code == 401
    _refused(
        await _login(redis_replicas[1].url, _nobody(), address, "wrong"),
        "login attempts from this address",
    )
    client = _redis_or_skip()
    keys = client.keys(f"signoff:rate:login-ip:{ip}:*")
    assert len(keys) == 1
    assert int(client.get(keys[0]) or 0) == 5
    assert 0 < client.ttl(keys[0]) <= int(DAY) + 5
    # Nothing of it went to SQL.
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT count(*) FROM rate_limit_counters WHERE key = :key"),
            {"key": f"login-ip:{ip}"},
        ).scalar_one()
    assert rows == 0


def _closed_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture(scope="module")
def open_when_down(start_api: Callable[..., Stack]) -> Stack:
    """An API whose counter store (Redis) is unreachable, failing open (the default)."""
    return start_api("open", SIGNOFF_RATE_LIMIT_REDIS_URL=_closed_redis())


@pytest.fixture(scope="module")
def closed_when_down(start_api: Callable[..., Stack]) -> Stack:
    """The same, configured to fail closed."""
    return start_api(
        "closed",
        SIGNOFF_RATE_LIMIT_REDIS_URL=_closed_redis(),
        SIGNOFF_RATE_LIMIT_FAIL_OPEN="false",
    )


async def test_a_store_that_is_down_lets_requests_through_and_says_so_once(
    open_when_down: Stack, seeded: Engine
) -> None:
    address = _ip()
    for _ in range(6):  # past the limit of 4, yet never refused
        response = await _login(open_when_down.url, _nobody(), address, "wrong")
        assert response.status_code == 401, response.text
    assert (await _login(open_when_down.url, _user(seeded), address, DEMO_PASSWORD)).is_success
    warnings = [
        line
        for line in open_when_down.api_log.read_text().splitlines()
        if "rate limit counters unreachable" in line
    ]
    assert len(warnings) == 1, warnings
    assert "WARNING" in warnings[0] and "SIGNOFF_RATE_LIMIT_FAIL_OPEN=true" in warnings[0]


async def test_a_store_that_is_down_refuses_when_configured_closed(
    closed_when_down: Stack,
) -> None:
    response = await _login(closed_when_down.url, _nobody(), _ip(), "wrong")
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    async with httpx.AsyncClient(base_url=closed_when_down.url, timeout=30) as client:
        assert (await client.get("/health/live")).status_code == 200
