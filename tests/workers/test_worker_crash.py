"""SIGKILL the worker process with 50 requests open; a new worker finishes every one of them."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from clients.approvals import RequestHandle, read_state, send_update, start_request
from schemas.approval import ApproveInput, DecisionSignal, EventKind, RequestStatus
from schemas.template import Escalation
from store.tables import AuditRecord, RequestRecord
from tests.factories import always_open_calendar, approval_input, level
from tests.processes import worker_process
from workflows.approval import ApprovalWorkflow

OPEN = 50
TAT_SECONDS = 6.0


async def _assert_exact_history(handle: RequestHandle, engine: Engine, breached: bool) -> None:
    state = await read_state(handle)
    decisions = Counter(d.actor for lv in state.levels for d in lv.decisions)
    assert decisions == Counter({"mia": 1, "max": 1, "cy": 1}), handle.id
    kinds = Counter((e.kind, e.level_id) for e in state.audit)
    if breached:
        # Nobody finished level 1 in time: both reminders and the breach fired, once each.
        assert kinds[(EventKind.REMINDER, "L1")] == 2, handle.id
        assert kinds[(EventKind.BREACHED, "L1")] == 1, handle.id
    assert kinds[(EventKind.COMPLETED, None)] == 1
    # The read model equals the workflow's own state.
    with Session(engine) as session:
        row = session.get(RequestRecord, handle.id)
        assert row is not None and row.status == "APPROVED"
        assert row.version == state.audit[-1].seq
        seqs = session.exec(
            select(AuditRecord.seq).where(col(AuditRecord.request_id) == handle.id)
        ).all()
    assert sorted(seqs) == [e.seq for e in state.audit]


async def test_a_killed_worker_loses_nothing(
    dev_env: WorkflowEnvironment,
    task_queue: str,
    database_url: str,
    engine: Engine,
    tmp_path: Path,
) -> None:
    client = dev_env.client
    log = tmp_path / "worker.log"
    inp = approval_input(
        [
            level(
                "Manager",
                ["mia", "max"],
                mode="all",
                hours=TAT_SECONDS / 3600,
                escalation=Escalation(action="notify", notify=["ops"]),
            ),
            level("CFO", ["cy"], hours=100),
        ],
        calendar=always_open_calendar(),
    )
    with worker_process(dev_env, task_queue, database_url, log) as first:
        handles = [
            (await start_request(client, task_queue, inp, f"crash-{task_queue[-6:]}-{i}"))[0]
            for i in range(OPEN)
        ]
        # "mia" approves every request by update; the worker dies while they are in flight.
        updates = [
            asyncio.create_task(send_update(h, ApprovalWorkflow.approve, ApproveInput(actor="mia")))
            for h in handles
        ]
        await asyncio.sleep(0.2)
        first.send_signal(signal.SIGKILL)
        first.wait()
    # With no worker running, "max" decides half of them by signal: durable, applied later.
    for handle in handles[: OPEN // 2]:
        await handle.signal(
            ApprovalWorkflow.decide, DecisionSignal(actor="max", kind="approve", via="email")
        )
    # Every level-1 reminder and breach of the other half falls due during the outage.
    await asyncio.sleep(TAT_SECONDS + 1)
    with worker_process(dev_env, task_queue, database_url, log):
        await asyncio.wait_for(asyncio.gather(*updates), timeout=60)
        for handle in handles[: OPEN // 2]:
            await send_update(handle, ApprovalWorkflow.approve, ApproveInput(actor="cy"))
        for handle in handles[OPEN // 2 :]:
            await send_update(handle, ApprovalWorkflow.approve, ApproveInput(actor="max"))
            await send_update(handle, ApprovalWorkflow.approve, ApproveInput(actor="cy"))
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=60)
        assert [r.status for r in results] == [RequestStatus.APPROVED] * OPEN
        for index, handle in enumerate(handles):
            await _assert_exact_history(handle, engine, breached=index >= OPEN // 2)
