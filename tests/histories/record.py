"""Record the histories the replay tests check: `python -m tests.histories.record`.

Run it only when a history must be added on purpose (a new scenario, or a `workflow.patched`
change: rename the old files first so they stay); changed workflow code
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
from schemas.notifications import ProcessRepliesInput, WebhookDeliveryInput
from schemas.template import Escalation, Tat
from store.db import make_engine, transaction
from store.migrate import upgrade
from store.tables import Org, User, Webhook, WebhookDelivery
from tests.api.webhook_receiver import Receiver
from tests.factories import approval_input, level, office_calendar
from workers.approval_worker import build_worker
from workflows.approval import ApprovalWorkflow
from workflows.reply_poller import ReplyPollerWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

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


def _seed_webhook_deliveries(engine: Engine, url: str) -> None:
    """A webhook at `url` and two deliveries whose first attempt (the fan-out's) failed."""
    now = datetime.now(UTC)
    with transaction(engine) as session:
        session.add(
            Webhook(
                id="whk-recorded",
                org_id="recorded-org",
                url=url,
                event_types=["*"],
                secret="recorded-secret",
                created_by="fin-1",
                created_at=now,
                updated_at=now,
            )
        )
        for delivery_id in ("retried", "dead"):
            session.add(
                WebhookDelivery(
                    id=delivery_id,
                    org_id="recorded-org",
                    webhook_id="whk-recorded",
                    event_type="request.commented",
                    payload={"id": delivery_id},
                    status="pending",
                    attempts=1,
                    last_error="HTTP 500",
                    created_at=now,
                )
            )


async def _record_support_workflows(
    env: WorkflowEnvironment, queue: str, folder: Path
) -> list[Path]:
    """WebhookDeliveryWorkflow (retried to success, and dead-lettered) and ReplyPollerWorkflow
    (no mailbox configured: one pass that finds nothing)."""

    def failed_once(delivery_id: str, max_attempts: int) -> WebhookDeliveryInput:
        return WebhookDeliveryInput(
            delivery_id=delivery_id,
            max_attempts=max_attempts,
            first_retry_seconds=1,
            timeout_seconds=5,
            attempts_made=1,
            last_error="HTTP 500",
        )

    runs: list[tuple[str, Any, Any, Any]] = [
        ("webhook_retried", WebhookDeliveryWorkflow.run, failed_once("retried", 5), "delivered"),
        ("webhook_dead", WebhookDeliveryWorkflow.run, failed_once("dead", 2), "dead"),
        ("reply_poller_idle", ReplyPollerWorkflow.run, ProcessRepliesInput(), None),
    ]
    written = []
    for name, run, inp, status in runs:
        handle = await env.client.start_workflow(
            run, inp, id=f"{name}-{uuid.uuid4()}", task_queue=queue
        )
        result = await handle.result()
        assert status is None or result.status == status, (name, result)
        path = folder / f"{name}.json"
        path.write_text((await handle.fetch_history()).to_json())
        written.append(path)
    return written


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
    # Fails the first retry of each delivery, then answers: "retried" succeeds on its third
    # attempt; "dead" has only one attempt left and ends dead-lettered.
    receiver = Receiver(failures=1, name="recorded").start()
    _seed_webhook_deliveries(engine, receiver.url)
    settings = Settings(worker_activity_threads=4, webhook_allow_private=True)
    written = []
    try:
        await register_search_attributes(env.client, "default")
        queue = f"record-{uuid.uuid4()}"
        with ThreadPoolExecutor(4) as pool:
            worker = build_worker(env.client, settings, engine, pool, queue)
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
                written += await _record_support_workflows(env, queue, folder)
    finally:
        receiver.stop()
        engine.dispose()
        (folder / "record.db").unlink(missing_ok=True)
        await env.shutdown()
    return written


if __name__ == "__main__":
    for path in asyncio.run(record()):
        print(f"wrote {path}")
