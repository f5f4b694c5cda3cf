"""Fixed-window request counters shared by every API replica: in SQL, or in Redis.

Each hit adds one to the counter of (key, window) and returns the new count in one atomic
statement, so replicas counting the same caller never lose a hit. Counters of past windows
are removed as new windows begin (SQL) or expire by themselves (Redis).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError
from sqlalchemy import BigInteger, Column, Index, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel, col, delete, select

from store.types import UtcDateTime
from store.upsert import increment_statement, table_of

# Rows of ended windows removed per new window: each new window adds one row, so this keeps up
# while never holding locks on an unbounded set.
SWEEP_BATCH = 500


class RateLimitCounter(SQLModel, table=True):
    """Hits of one key (a limit and whom it counts) in one fixed window."""

    __tablename__ = "rate_limit_counters"
    __table_args__ = (Index("ix_rate_limit_counters_expires_at", "expires_at"),)

    key: str = Field(primary_key=True, max_length=300)
    window_start: int = Field(
        sa_column=Column(BigInteger, primary_key=True), description="Unix seconds it began at."
    )
    count: int
    expires_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


class CounterStoreDown(Exception):
    """The counter store could not count (unreachable, timed out, refused)."""


def _describe(store: str, error: Exception) -> str:
    # The first line only: SQL errors go on with the statement (parameters are hidden anyway).
    first = (str(error).splitlines() or [""])[0][:200]
    return f"{store}: {type(error).__name__}: {first}"


class CounterStore(Protocol):
    """Where counters live."""

    async def hit(self, keys: Sequence[str], window_start: int, window_seconds: int) -> list[int]:
        """Add one to each key's counter of this window; the counts after adding."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class SqlCounters:
    """Counters in the application's SQL database (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        """Count in this database."""
        self.engine = engine
        self.table = table_of(RateLimitCounter)

    async def hit(self, keys: Sequence[str], window_start: int, window_seconds: int) -> list[int]:
        """Add one to each key's counter of this window; the counts after adding."""
        expires = datetime.fromtimestamp(window_start + window_seconds, UTC)
        statement = increment_statement(
            self.engine.dialect.name, self.table, ("key", "window_start"), "count"
        )
        rows = [
            {"key": key, "window_start": window_start, "count": 1, "expires_at": expires}
            for key in keys
        ]
        try:
            async with self.engine.begin() as connection:
                counts = [
                    int((await connection.execute(statement, row)).scalar_one()) for row in rows
                ]
        except (SQLAlchemyError, OSError) as error:
            raise CounterStoreDown(_describe("SQL", error)) from error
        if 1 in counts:  # a new window began for someone: clear away ended ones
            await self._sweep()
        return counts

    async def _sweep(self) -> None:
        ended = (
            select(col(RateLimitCounter.key), col(RateLimitCounter.window_start))
            .where(col(RateLimitCounter.expires_at) < datetime.now(UTC))
            .limit(SWEEP_BATCH)
        )
        try:
            async with self.engine.begin() as connection:
                await connection.execute(
                    delete(RateLimitCounter).where(
                        tuple_(col(RateLimitCounter.key), col(RateLimitCounter.window_start)).in_(
                            ended
                        )
                    )
                )
        except SQLAlchemyError:
            # Two replicas sweeping the same rows may collide; the next new window sweeps again.
            return

    async def close(self) -> None:
        """The engine belongs to the app; nothing of its own to release."""


class RedisCounters:
    """Counters in Redis: one key per window, expiring with it."""

    def __init__(self, url: str, timeout_seconds: float = 0.5) -> None:
        """Count in the Redis at `url`; a call waits at most `timeout_seconds` for it."""
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds
        )

    async def hit(self, keys: Sequence[str], window_start: int, window_seconds: int) -> list[int]:
        """Add one to each key's counter of this window; the counts after adding."""
        # Kept a little past its window so a late hit never revives a key without a TTL.
        ttl = window_seconds + 5
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                for key in keys:
                    name = f"signoff:rate:{key}:{window_start}"
                    pipe.set(name, 0, ex=ttl, nx=True)
                    pipe.incr(name)
                results = await pipe.execute()
        except (RedisError, OSError) as error:
            raise CounterStoreDown(_describe("Redis", error)) from error
        return [int(count) for count in results[1::2]]

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()
