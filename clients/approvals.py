"""Start requests and send decisions and overrides to their workflows."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from approvals.summary import search_attribute_values
from schemas import search_attributes as sa
from schemas.approval import (
    REFUSED_FORBIDDEN,
    ApprovalInput,
    ApprovalResult,
    OpenedInput,
    RequestState,
    StateQuery,
    UpdateResult,
)
from workflows.approval import ApprovalWorkflow

RequestHandle = WorkflowHandle[ApprovalWorkflow, Any]


class RequestRefused(Exception):
    """The engine refused a decision or override; `forbidden` tells who-problems from state."""

    def __init__(self, reason: str, *, forbidden: bool = False, missing: bool = False) -> None:
        """Keep the engine's reason for the caller."""
        super().__init__(reason)
        self.reason = reason
        self.forbidden = forbidden
        self.missing = missing


class RequestBusy(Exception):
    """The request could not take a message just now (Temporal refused it while the workflow's
    task is being retried, e.g. under load or after a worker restart); the caller may retry."""


def request_handle(client: Client, request_id: str) -> RequestHandle:
    """The handle of a request's workflow by its id (the latest run)."""
    handle: RequestHandle = client.get_workflow_handle(request_id, result_type=ApprovalResult)
    return handle


def new_request_id() -> str:
    """A fresh request id (the workflow id)."""
    return f"req-{uuid.uuid4()}"


async def start_request(
    client: Client,
    task_queue: str,
    inp: ApprovalInput,
    request_id: str | None = None,
    *,
    reuse_existing: bool = False,
) -> tuple[RequestHandle, UpdateResult]:
    """Start the workflow and return its opened state in one round trip (update-with-start).

    The workflow is searchable by org, template and status from its first moment. With
    `reuse_existing`, an id already running returns that request instead of failing.
    """
    request_id = request_id or new_request_id()
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(sa.ORG, inp.org_id),
        SearchAttributePair(sa.TEMPLATE, inp.template.key),
        SearchAttributePair(sa.STATUS, "IN_PROGRESS"),
        SearchAttributePair(sa.PRIORITY, inp.priority),
    ]
    if inp.amount is not None:
        pairs.append(SearchAttributePair(sa.AMOUNT, float(inp.amount)))
    operation = WithStartWorkflowOperation(
        ApprovalWorkflow.run,
        inp,
        id=request_id,
        task_queue=task_queue,
        search_attributes=TypedSearchAttributes(pairs),
        static_summary=f"{inp.template.name}: {inp.title}"[:200],
        id_conflict_policy=(
            WorkflowIDConflictPolicy.USE_EXISTING
            if reuse_existing
            else WorkflowIDConflictPolicy.FAIL
        ),
    )
    opened = await client.execute_update_with_start_workflow(
        ApprovalWorkflow.opened, OpenedInput(), start_workflow_operation=operation
    )
    return await operation.workflow_handle(), opened


async def send_update(
    handle: RequestHandle, update: Any, arg: Any, update_id: str | None = None
) -> UpdateResult:
    """Run a decision or override; refusals become RequestRefused with the engine's reason.

    An update sent again with the same `update_id` is not applied again: the caller gets the
    first one's outcome (a client retrying after a timeout).
    """
    try:
        result: UpdateResult = await handle.execute_update(update, arg, id=update_id)
        return result
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise RequestRefused(cause.message, forbidden=cause.type == REFUSED_FORBIDDEN) from None
        raise
    except RPCError as err:
        if err.status == RPCStatusCode.FAILED_PRECONDITION and not _says_closed(err):
            raise RequestBusy(err.message) from None
        raise _closed_or_missing(err) from None


def _says_closed(err: RPCError) -> bool:
    # Temporal answers FAILED_PRECONDITION both for a finished workflow and for one whose
    # workflow task is failing or being retried; only the former is final.
    return any(word in err.message.lower() for word in ("complete", "closed", "finished"))


async def read_state(
    handle: RequestHandle, audit_since: int = 0, rpc_timeout: timedelta | None = None
) -> RequestState:
    """The live state from the workflow's query (also answers for closed workflows)."""
    try:
        return await handle.query(
            ApprovalWorkflow.state, StateQuery(audit_since=audit_since), rpc_timeout=rpc_timeout
        )
    except WorkflowQueryFailedError as err:
        raise RequestRefused(f"the request cannot answer yet: {err.message}") from None
    except RPCError as err:
        raise _closed_or_missing(err) from None


def _closed_or_missing(err: RPCError) -> RequestRefused:
    if err.status == RPCStatusCode.NOT_FOUND:
        # Either no such workflow, or it has already finished and takes no more messages.
        return RequestRefused("the request is closed or does not exist", missing=True)
    if err.status == RPCStatusCode.FAILED_PRECONDITION:
        return RequestRefused("the request is closed")
    raise err


def summarize(state: RequestState) -> dict[str, Any]:
    """A short, printable view of a request."""
    level = state.active_level()
    return {
        "request_id": state.request_id,
        "title": state.title,
        "status": state.status.value,
        "sla": state.sla_state.value,
        "level": f"{level.level_id} {level.name}" if level else None,
        "waiting_on": level.pending_approvers() if level else [],
        "search_attributes": {p.key.name: p.value for p in search_attribute_values(state)},
    }
