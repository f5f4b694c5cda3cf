"""Decisions and overrides through the real workflow: what is applied, what is refused, and why."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from schemas.approval import (
    REFUSED_CONFLICT,
    REFUSED_FORBIDDEN,
    ApproveInput,
    CommentInput,
    DecisionSignal,
    EventKind,
    InsertLevelInput,
    LevelStatus,
    ReassignInput,
    RejectInput,
    RequestStatus,
    SkipLevelInput,
    WithdrawInput,
)
from tests.conftest import WorkerFactory
from tests.factories import approval_input, level
from tests.workflows.helpers import finish, history_event_types, refused, start, state
from workflows.approval import ApprovalWorkflow


async def test_any_level_then_all_level_approve_the_request(
    time_skipping_env: WorkflowEnvironment, approval_worker: WorkerFactory, task_queue: str
) -> None:
    client = time_skipping_env.client
    inp = approval_input(
        [level("Manager", ["mia", "max"]), level("Board", ["bo", "bea"], mode="all")]
    )
    async with approval_worker(client):
        handle = await start(client, task_queue, inp)
        first = await handle.execute_update(
            ApprovalWorkflow.approve, ApproveInput(actor="max", comment="fine by me")
        )
        assert first.request.levels[0].status == LevelStatus.APPROVED
        assert first.request.current_level == 1
        assert [e.kind for e in first.events] == [
            EventKind.APPROVED,
            EventKind.LEVEL_APPROVED,
            EventKind.LEVEL_STARTED,
        ]
        # "mia" is no longer asked: the level went on with one approval in mode any.
        error = await refused(ApprovalWorkflow.approve, handle, ApproveInput(actor="mia"))
        assert error.type == REFUSED_FORBIDDEN
        assert "not an approver of level L2" in str(error)
        half = await handle.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="bo"))
        assert half.request.current_level == 1 and half.request.is_open
        assert half.request.levels[1].pending_approvers() == ["bea"]
        done = await handle.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="bea"))
        assert done.request.status == RequestStatus.APPROVED
        result = await handle.result()
        assert result.status == RequestStatus.APPROVED


async def test_n_of_needs_n_approvals_and_one_rejection_rejects(
    time_skipping_env: WorkflowEnvironment, approval_worker: WorkerFactory, task_queue: str
) -> None:
    client = time_skipping_env.client
    inp = approval_input([level("Panel", ["a1", "a2", "a3"], mode="n_of", required=2)])
    async with approval_worker(client):
        handle = await start(client, task_queue, inp)
        await handle.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="a1"))
        assert (await state(handle)).is_open
        out = await handle.execute_update(
            ApprovalWorkflow.reject, RejectInput(actor="a2", reason="no budget left")
        )
        assert out.request.status == RequestStatus.REJECTED
        assert out.request.outcome_reason == "no budget left"
        result = await handle.result()
        assert result.status == RequestStatus.REJECTED


async def test_wrong_duplicate_and_late_decisions_are_refused_before_history(
    time_skipping_env: WorkflowEnvironment, approval_worker: WorkerFactory, task_queue: str
) -> None:
    client = time_skipping_env.client
    inp = approval_input([level("Board", ["bo", "bea"], mode="all")])
    async with approval_worker(client):
        handle = await start(client, task_queue, inp)
        error = await refused(ApprovalWorkflow.approve, handle, ApproveInput(actor="mallory"))
        assert error.type == REFUSED_FORBIDDEN
        await handle.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="bo"))
        error = await refused(ApprovalWorkflow.approve, handle, ApproveInput(actor="bo"))
        assert error.type == REFUSED_CONFLICT
        assert "already decided" in str(error)
        error = await refused(
            ApprovalWorkflow.approve, handle, ApproveInput(actor="bea", level_id="L7")
        )
        assert "no longer current" in str(error)
        error = await refused(
            ApprovalWorkflow.withdraw, handle, WithdrawInput(actor="bo", reason="mine now")
        )
        assert error.type == REFUSED_FORBIDDEN
        await handle.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="bea"))
        await handle.result()
        # After completion the server itself refuses: no workflow is left to take a decision.
        with pytest.raises(RPCError):
            await handle.execute_update(
                ApprovalWorkflow.comment, CommentInput(actor="bo", text="x")
            )
        # Validators refuse before anything is written: only the two accepted updates are there.
        kinds = await history_event_types(handle)
        assert kinds.count("workflow_execution_update_accepted_event_attributes") == 2
        assert "workflow_execution_update_rejected_event_attributes" not in kinds


async def test_signals_apply_or_are_audited_as_ignored(
    time_skipping_env: WorkflowEnvironment, approval_worker: WorkerFactory, task_queue: str
) -> None:
    client = time_skipping_env.client
    inp = approval_input([level("Manager", ["mia"]), level("CFO", ["cy"])])
    async with approval_worker(client):
        handle = await start(client, task_queue, inp)
        await handle.signal(
            ApprovalWorkflow.decide, DecisionSignal(actor="eve", kind="approve", via="email")
        )
        await handle.signal(
            ApprovalWorkflow.decide,
            DecisionSignal(actor="mia", kind="approve", text="ok", via="email"),
        )
        await handle.signal(
            ApprovalWorkflow.decide, DecisionSignal(actor="cy", kind="reject", via="email")
        )
        now = await state(handle)
        ignored = [e for e in now.audit if e.kind == EventKind.DECISION_IGNORED]
        assert [(e.actor, e.reason) for e in ignored] == [
            ("eve", "eve is not an approver of level L1"),
            ("cy", "a rejection needs a reason"),
        ]
        assert ignored[0].recipients == ["eve"]
        assert now.levels[0].status == LevelStatus.APPROVED
        assert now.levels[0].decisions[0].via == "email"
        assert now.current_level == 1
        await finish(handle)


async def test_requester_withdraws(
    time_skipping_env: WorkflowEnvironment, approval_worker: WorkerFactory, task_queue: str
) -> None:
    client = time_skipping_env.client
    async with approval_worker(client):
        handle = await start(client, task_queue, approval_input([level("Manager", ["mia"])]))
        out = await handle.execute_update(
            ApprovalWorkflow.withdraw, WithdrawInput(actor="rita", reason="bought it myself")
        )
        assert out.request.status == RequestStatus.WITHDRAWN
        assert out.request.levels[0].status == LevelStatus.CANCELLED
        completed = out.events[-1]
        assert completed.kind == EventKind.COMPLETED and "mia" in completed.recipients
        assert (await handle.result()).status == RequestStatus.WITHDRAWN


async def test_skip_current_and_named_levels(
    time_skipping_env: WorkflowEnvironment, approval_worker: WorkerFactory, task_queue: str
) -> None:
    client = time_skipping_env.client
    inp = approval_input([level("A", ["a"]), level("B", ["b"]), level("C", ["c"])])
    async with approval_worker(client):
        handle = await start(client, task_queue, inp)
        out = await handle.execute_update(
            ApprovalWorkflow.skip_level,
            SkipLevelInput(actor="max", reason="C is on leave", level_id="L3"),
        )
        assert out.request.levels[2].status == LevelStatus.SKIPPED
        assert out.request.current_level == 0
        out = await handle.execute_update(
            ApprovalWorkflow.skip_level, SkipLevelInput(actor="max", reason="urgent")
        )
        assert out.request.levels[0].status == LevelStatus.SKIPPED
        assert out.request.current_level == 1
        error = await refused(
            ApprovalWorkflow.skip_level,
            handle,
            SkipLevelInput(actor="max", reason="again", level_id="L1"),
        )
        assert "already SKIPPED" in str(error)
        done = await handle.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="b"))
        assert done.request.status == RequestStatus.APPROVED
        await handle.result()


async def test_insert_level_at_current_and_later_positions(
    time_skipping_env: WorkflowEnvironment, approval_worker: WorkerFactory, task_queue: str
) -> None:
    client = time_skipping_env.client
    inp = approval_input([level("A", ["a"]), level("B", ["b"])])
    async with approval_worker(client):
        handle = await start(client, task_queue, inp)
        out = await handle.execute_update(
            ApprovalWorkflow.insert_level,
            InsertLevelInput(actor="max", reason="legal must look", position=2, approvers=["lee"]),
        )
        assert [lv.name for lv in out.request.levels] == ["A", "B", "Inserted approval"]
        out = await handle.execute_update(
            ApprovalWorkflow.insert_level,
            InsertLevelInput(
                actor="max",
                reason="security first",
                position=0,
                approvers=["sec1", "sec2"],
                mode="all",
                name="Security",
            ),
        )
        assert [lv.level_id for lv in out.request.levels] == ["L4", "L1", "L2", "L3"]
        assert out.request.current_level == 0
        assert out.request.levels[1].status == LevelStatus.PENDING
        assert out.request.levels[0].pending_approvers() == ["sec1", "sec2"]
        error = await refused(
            ApprovalWorkflow.insert_level,
            handle,
            InsertLevelInput(actor="max", reason="x", position=9, approvers=["z"]),
        )
        assert "outside" in str(error)
        error = await refused(
            ApprovalWorkflow.insert_level,
            handle,
            InsertLevelInput(actor="max", reason="x", position=1, approvers=["rita"]),
        )
        assert "requester" in str(error)
        for actor in ("sec1", "sec2", "a", "b", "lee"):
            out = await handle.execute_update(ApprovalWorkflow.approve, ApproveInput(actor=actor))
        assert out.request.status == RequestStatus.APPROVED
        await handle.result()


async def test_reassign_moves_one_pending_approval(
    time_skipping_env: WorkflowEnvironment, approval_worker: WorkerFactory, task_queue: str
) -> None:
    client = time_skipping_env.client
    inp = approval_input([level("Board", ["bo", "bea"], mode="all")])
    async with approval_worker(client):
        handle = await start(client, task_queue, inp)
        await handle.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="bo"))
        error = await refused(
            ApprovalWorkflow.reassign,
            handle,
            ReassignInput(actor="max", reason="x", from_user="bo", to_user="zed"),
        )
        assert "no pending approval" in str(error)
        error = await refused(
            ApprovalWorkflow.reassign,
            handle,
            ReassignInput(actor="max", reason="x", from_user="bea", to_user="bo"),
        )
        assert "already an approver" in str(error)
        out = await handle.execute_update(
            ApprovalWorkflow.reassign,
            ReassignInput(actor="bea", reason="on holiday", from_user="bea", to_user="zed"),
        )
        assert out.request.levels[0].approvers == ["bo", "zed"]
        assert out.events[0].recipients == ["zed"]
        await refused(ApprovalWorkflow.approve, handle, ApproveInput(actor="bea"))
        done = await handle.execute_update(ApprovalWorkflow.approve, ApproveInput(actor="zed"))
        assert done.request.status == RequestStatus.APPROVED
        await handle.result()


async def test_roles_resolve_from_the_directory_and_routing_picks_levels(
    time_skipping_env: WorkflowEnvironment,
    approval_worker: WorkerFactory,
    task_queue: str,
    engine: Engine,
) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from schemas.template import RoutingCondition
    from store.db import transaction
    from store.tables import Org, User

    org = f"org-{task_queue[-8:]}"
    now = datetime.now(UTC)
    with transaction(engine) as session:
        session.add(Org(id=org, name="Routing Ltd", calendar={}, created_at=now))
        for uid, roles in [("fin1", ["finance"]), ("fin2", ["finance"]), ("gone", ["finance"])]:
            session.add(
                User(
                    id=f"{org}-{uid}",
                    org_id=org,
                    email=f"{uid}@{org}.test",
                    name=uid,
                    roles=roles,
                    active=uid != "gone",
                    created_at=now,
                )
            )
    small = level("Finance", [], role="finance")
    big = level("CFO", ["cy"], when=RoutingCondition(min_amount=Decimal("10000")))
    client = time_skipping_env.client
    async with approval_worker(client):
        handle = await start(client, task_queue, approval_input([small, big], org_id=org))
        now_state = await state(handle)
        assert [lv.name for lv in now_state.levels] == ["Finance"]
        assert now_state.levels[0].approvers == [f"{org}-fin1", f"{org}-fin2"]
        await finish(handle)
        large = approval_input([small, big], org_id=org, amount="25000")
        handle = await start(client, task_queue, large)
        assert [lv.name for lv in (await state(handle)).levels] == ["Finance", "CFO"]
        await finish(handle)
