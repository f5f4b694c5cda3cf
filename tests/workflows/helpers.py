"""Small steps the workflow tests share: start, update, expect a refusal, finish."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from schemas.approval import ApprovalInput, CancelInput, RequestState, StateQuery
from workflows.approval import ApprovalWorkflow

Handle = WorkflowHandle[ApprovalWorkflow, Any]


async def start(client: Client, task_queue: str, inp: ApprovalInput) -> Handle:
    """Start a request on the test's own task queue."""
    return await client.start_workflow(
        ApprovalWorkflow.run, inp, id=f"req-{uuid.uuid4()}", task_queue=task_queue
    )


async def state(handle: Handle) -> RequestState:
    """The live state from the workflow query."""
    return await handle.query(ApprovalWorkflow.state, StateQuery())


async def refused(update: Any, handle: Handle, arg: Any) -> ApplicationError:
    """Run an update that must be refused; return the refusal."""
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(update, arg)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def finish(handle: Handle) -> None:
    """Cancel the request if it is still open and wait until the workflow has finished."""
    if (await state(handle)).is_open:
        await handle.execute_update(
            ApprovalWorkflow.cancel, CancelInput(actor="ops", reason="test over")
        )
    await handle.result()


async def history_event_types(handle: Handle) -> list[str]:
    """The kinds of the workflow's history events, in order."""
    return [str(e.WhichOneof("attributes")) async for e in handle.fetch_history_events()]
