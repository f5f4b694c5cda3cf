"""A 100,000-request export streams: every row arrives and the API process's peak memory
grows no more than a generous bound (40 MiB) beyond what a 1,000-row export already took."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from api.security import hash_password
from devstack.demo import DEMO_PASSWORD
from store.db import transaction
from store.tables import Org, RequestRecord, User
from store.upsert import insert_missing
from tests.api.conftest import Stack, login
from tests.api.test_auth import own_stack

MIB = 1024 * 1024
BATCH = 5000


def _org_with_requests(engine: Engine, count: int) -> str:
    """A new org with a MANAGEMENT user and `count` request rows written straight to SQL."""
    org = f"bulk-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    with transaction(engine) as session:
        insert_missing(
            session,
            Org,
            [{"id": org, "name": org, "calendar": {}, "created_at": now}],
            ["id"],
        )
        session.add(
            User(
                id=f"{org}-manager",
                org_id=org,
                email=f"manager@{org}.test",
                name="Manager",
                roles=["MANAGEMENT"],
                password_hash=hash_password(DEMO_PASSWORD),
                created_at=now,
            )
        )
    for first in range(0, count, BATCH):
        rows: list[dict[str, object]] = [
            {
                "id": f"{org}-r{n:06d}",
                "org_id": org,
                "template_key": "purchase",
                "template_version": 1,
                "title": f"Bulk request number {n} with a title of ordinary length",
                "requester": f"{org}-manager",
                "amount": n,
                "currency": "EUR",
                "department": "IT",
                "priority": "STANDARD",
                "status": "IN_PROGRESS",
                "sla_state": "ON_TRACK",
                "current_level_id": "L1",
                "paused": False,
                "created_at": now - timedelta(seconds=count - n),
                "updated_at": now,
                "closed_at": None,
                "version": 1,
                "snapshot": {},
            }
            for n in range(first, min(first + BATCH, count))
        ]
        with transaction(engine) as session:
            insert_missing(session, RequestRecord, rows, ["id"])
    return org


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


async def _export_lines(url: str, org: str) -> int:
    """Lines of the org manager's requests.csv, counted as they stream in."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        headers = await login(client, f"manager@{org}.test")
        lines = 0
        async with client.stream("GET", "/api/v1/reports/requests.csv", headers=headers) as got:
            assert got.status_code == 200
            async for _ in got.aiter_lines():
                lines += 1
        return lines


@pytest.fixture(scope="module")
def export_api(
    engine: Engine,
    dev_env: WorkflowEnvironment,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    yield from own_stack(dev_env, database_url, tmp_path_factory.mktemp("bulk-export"))


async def test_a_100000_row_export_streams_in_bounded_memory(
    export_api: Stack, engine: Engine
) -> None:
    small, large = _org_with_requests(engine, 1000), _org_with_requests(engine, 100_000)
    pid = export_api.processes[-1].pid
    assert await _export_lines(export_api.url, small) == 1001
    baseline = _peak_rss(pid)
    assert await _export_lines(export_api.url, large) == 100_001
    growth = _peak_rss(pid) - baseline
    # Streamed, the peak grows a few MiB; reading all rows at once grows it about 100 MiB.
    assert growth < 40 * MIB, f"peak RSS grew {growth / MIB:.0f} MiB"
