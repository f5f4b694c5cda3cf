"""The SQL counters on each backend: atomic under concurrency, and ended windows swept away."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.async_db import make_async_engine
from store.rate_limit_counters import RateLimitCounter, SqlCounters


@pytest.fixture
async def async_engine(any_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An asyncio engine on each backend, as the API has."""
    engine = make_async_engine(any_database_url)
    yield engine
    await engine.dispose()


async def test_concurrent_hits_each_get_their_own_count(async_engine: AsyncEngine) -> None:
    counters = SqlCounters(async_engine)
    key = f"test:{uuid.uuid4().hex}"
    window = int(time.time() // 60) * 60
    counts = await asyncio.gather(*(counters.hit([key], window, 60) for _ in range(12)))
    assert sorted(c for (c,) in counts) == list(range(1, 13))
    # Two keys in one hit, and a new window starts again at one.
    other = f"test:{uuid.uuid4().hex}"
    assert await counters.hit([key, other], window, 60) == [13, 1]
    assert await counters.hit([key], window + 60, 60) == [1]


async def test_a_new_window_sweeps_ended_ones(async_engine: AsyncEngine) -> None:
    ended = f"test:{uuid.uuid4().hex}"
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    async with AsyncSession(async_engine) as session:
        session.add_all(
            RateLimitCounter(key=ended, window_start=n, count=3, expires_at=long_ago)
            for n in range(3)
        )
        await session.commit()
    counters = SqlCounters(async_engine)
    live = f"test:{uuid.uuid4().hex}"
    await counters.hit([live], int(time.time() // 60) * 60, 60)
    async with AsyncSession(async_engine) as session:
        left = (
            await session.exec(
                select(RateLimitCounter.key).where(col(RateLimitCounter.key).in_([ended, live]))
            )
        ).all()
    assert left == [live]
