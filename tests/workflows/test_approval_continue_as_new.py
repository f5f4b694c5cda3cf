"""Continue-as-new when the server suggests it: the whole state carries over to the next run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from clients.approvals import read_state, request_handle, send_update, start_request
from devstack.temporal import start_throwaway_server
from schemas.approval import ApproveInput, CommentInput, EventKind, RequestStatus
from tests.conftest import WorkerFactory
from tests.factories import approval_input, level
from workflows.approval import ApprovalWorkflow


@pytest.fixture(scope="module")
async def eager_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server that suggests continue-as-new after 60 history events, not thousands."""
    env = await start_throwaway_server(
        "--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=60"
    )
    yield env
    await env.shutdown()


async def test_long_request_continues_as_new_with_its_whole_state(
    eager_env: WorkflowEnvironment, approval_worker: WorkerFactory, task_queue: str
) -> None:
    client = eager_env.client
    inp = approval_input([level("Manager", ["mia", "max"], mode="all"), level("CFO", ["cy"])])
    async with approval_worker(client):
        handle, _ = await start_request(client, task_queue, inp)
        await send_update(handle, ApprovalWorkflow.approve, ApproveInput(actor="mia"))
        for n in range(30):
            await send_update(
                handle, ApprovalWorkflow.comment, CommentInput(actor="rita", text=f"ping {n}")
            )
        state = await read_state(handle)
        assert state.runs >= 2
        first_run = client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
        assert (await first_run.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
        # Nothing was lost or repeated across runs: decisions, comments and sequence numbers.
        assert [e.seq for e in state.audit] == list(range(1, len(state.audit) + 1))
        comments = [e.reason for e in state.audit if e.kind == EventKind.COMMENTED]
        assert comments == [f"ping {n}" for n in range(30)]
        assert state.levels[0].pending_approvers() == ["max"]
        await send_update(handle, ApprovalWorkflow.approve, ApproveInput(actor="max"))
        await send_update(handle, ApprovalWorkflow.approve, ApproveInput(actor="cy"))
        result = await request_handle(client, handle.id).result()
        assert result.status == RequestStatus.APPROVED
