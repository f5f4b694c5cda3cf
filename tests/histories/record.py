"""Record the histories the replay tests check: `python -m tests.histories.record`.

Run it only when a history must be added on purpose (a new scenario); changed workflow code
must keep replaying the histories already saved, or use `workflow.patched`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from devstack.temporal import installed_binary, register_search_attributes
from schemas.approval import (
    ApproveInput,
    CancelInput,
    CommentInput,
    DecisionSignal,
    InsertLevelInput,
    PauseInput,
    ReassignInput,
    RejectInput,
    ResumeInput,
    SkipLevelInput,
)
from schemas.template import Escalation, Tat
from store.db import make_engine, transaction
from store.migrate import upgrade
from store.tables import Org, User
from tests.factories import approval_input, level, office_calendar
from workers.approval_worker import build_worker
from workflows.approval import ApprovalWorkflow

HERE = Path(__file__).parent
Handle = Any


async def _timers_and_escalations(env: WorkflowEnvironment, h: Handle) -> None:
    await env.sleep(timedelta(days=6))  # reminders, breach, reassignment, auto-approval
    await h.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="ed"))
    await env.sleep(timedelta(days=6))
    await h.execute_update(ApprovalWorkflow.reject, RejectInput(actor="cy", reason="no"))


async def _overrides(env: WorkflowEnvironment, h: Handle) -> None:
    await h.signal(ApprovalWorkflow.decide, DecisionSignal(actor="eve", kind="approve"))
    await h.execute_update(ApprovalWorkflow.comment, CommentInput(actor="rita", text="urgent"))
    await h.execute_update(
        ApprovalWorkflow.insert_level,
        InsertLevelInput(actor="max", reason="legal", position=1, approvers=["lee"]),
    )
    await h.execute_update(
        ApprovalWorkflow.reassign,
        ReassignInput(actor="max", reason="leave", from_user="mia", to_user="zed"),
    )
    await h.execute_update(ApprovalWorkflow.pause, PauseInput(actor="max", reason="quote"))
    await env.sleep(timedelta(days=2))
    await h.execute_update(ApprovalWorkflow.resume, ResumeInput(actor="max", reason="quote in"))
    await h.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="zed"))
    await h.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="max2"))
    await h.execute_update(
        ApprovalWorkflow.skip_level, SkipLevelInput(actor="max", reason="legal said ok by phone")
    )
    await h.signal(ApprovalWorkflow.decide, DecisionSignal(actor="cy", kind="approve"))
    await env.sleep(timedelta(hours=1))


async def _role_resolved(env: WorkflowEnvironment, h: Handle) -> None:
    await h.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="fin-1"))


async def _cancelled(env: WorkflowEnvironment, h: Handle) -> None:
    await h.execute_update(ApprovalWorkflow.cancel, CancelInput(actor="max", reason="dup"))


SCENARIOS: dict[str, tuple[Any, Callable[[WorkflowEnvironment, Handle], Awaitable[None]]]] = {
    "approval_timers_and_escalations": (
        approval_input(
            [
                level(
                    "Manager", ["mia"], escalation=Escalation(action="reassign", reassign_to=["ed"])
                ),
                level("Finance", ["fay"], escalation=Escalation(action="auto_approve")),
                level("CFO", ["cy"], escalation=Escalation(action="notify", notify=["ops"])),
            ],
            calendar=office_calendar(),
            overall_tat=Tat(days=30),
        ),
        _timers_and_escalations,
    ),
    "approval_overrides_and_signals": (
        approval_input(
            [level("Manager", ["mia", "max2"], mode="all"), level("CFO", ["cy"])],
            calendar=office_calendar(),
            priority="EXPRESS",
        ),
        _overrides,
    ),
    "approval_cancelled": (approval_input([level("Manager", ["mia"])]), _cancelled),
    "approval_role_resolved": (
        approval_input([level("Finance", [], role="finance")], org_id="recorded-org"),
        _role_resolved,
    ),
}


def _seed_finance_user(engine: Engine) -> None:
    now = datetime.now(UTC)
    with transaction(engine) as session:
        session.add(Org(id="recorded-org", name="Recorded", calendar={}, created_at=now))
        session.add(
            User(
                id="fin-1",
                org_id="recorded-org",
                email="fin@recorded.test",
                name="Fin",
                roles=["finance"],
                created_at=now,
            )
        )


async def record(folder: Path = HERE) -> list[Path]:
    """Run every scenario on the time-skipping server and save its history as JSON."""
    binary = installed_binary("temporal-test-server")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=binary
    )
    url = f"sqlite:///{folder / 'record.db'}"
    upgrade(url)
    engine = make_engine(url)
    _seed_finance_user(engine)
    written = []
    try:
        await register_search_attributes(env.client, "default")
        queue = f"record-{uuid.uuid4()}"
        with ThreadPoolExecutor(4) as pool:
            worker = build_worker(
                env.client, Settings(worker_activity_threads=4), engine, pool, queue
            )
            async with worker:
                for name, (inp, steps) in SCENARIOS.items():
                    handle = await env.client.start_workflow(
                        ApprovalWorkflow.run, inp, id=f"{name}-{uuid.uuid4()}", task_queue=queue
                    )
                    await steps(env, handle)
                    await handle.result()
                    path = folder / f"{name}.json"
                    path.write_text((await handle.fetch_history()).to_json())
                    written.append(path)
    finally:
        engine.dispose()
        (folder / "record.db").unlink(missing_ok=True)
        await env.shutdown()
    return written


if __name__ == "__main__":
    for path in asyncio.run(record()):
        print(f"wrote {path}")
