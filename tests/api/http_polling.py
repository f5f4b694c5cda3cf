"""Waiting on the real stack over HTTP: the worker works in its own process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx


async def get_until(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], done: Callable[[Any], bool]
) -> Any:
    """GET url until `done(json)` holds; fails with the last answer after about 30 s."""
    body: Any = None
    for _ in range(300):
        answer = await http.get(url, headers=headers)
        if answer.status_code == 200:
            body = answer.json()
            if done(body):
                return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never got there; last: {body}")
