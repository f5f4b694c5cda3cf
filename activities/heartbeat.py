"""A heartbeat kept going in the background while an async activity works.

A worker that dies mid-activity stops heartbeating, so the server retries the attempt on
another worker after the heartbeat timeout instead of waiting out the whole start-to-close
timeout; the activity itself needs no heartbeat calls between its awaits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from temporalio import activity

HEARTBEAT_EVERY_SECONDS = 2.0


@contextlib.asynccontextmanager
async def heartbeating(every: float = HEARTBEAT_EVERY_SECONDS) -> AsyncIterator[None]:
    """Heartbeat every `every` seconds until the block ends."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
