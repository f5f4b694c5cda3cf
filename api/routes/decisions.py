"""Decisions and overrides on a request, each an update of its workflow.

The workflow decides what its state allows and answers with a reason; here the caller's
org and role are checked, and refusals become 403 (who) or 409 (state).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from api.access import RequestRef, request_in_org, require_org_users, require_participant
from api.deps import ClientIp, ContextDep, CurrentUser, ManagerUser, Principal, SessionDep
from api.observability import DECISIONS
from api.problems import Problem, conflict, forbidden
from api.routes.requests import closed_or_missing
from clients.approvals import RequestBusy, RequestRefused, request_handle, send_update
from schemas.approval import (
    ActorInput,
    ApproveInput,
    CommentInput,
    InsertLevelInput,
    PauseInput,
    ReassignInput,
    RejectInput,
    ResumeInput,
    SkipLevelInput,
    WithdrawInput,
)
from schemas.request_api import (
    ApproveBody,
    CommentBody,
    DecisionOut,
    InsertApproverBody,
    ReasonBody,
    ReassignBody,
    RejectBody,
    SkipBody,
    WithdrawBody,
)
from workflows.approval import ApprovalWorkflow

router = APIRouter(tags=["decisions"])


# A decision waits this long for the workflow to take it (a worker must run it). Past that
# the caller gets a 503 to retry: the decision may still be applied once a worker is back, and a
# retry with the same Idempotency-Key joins it instead of deciding twice.
_DECISION_WAIT_SECONDS = 20

DecisionKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]


async def _send(
    context: ContextDep,
    row: RequestRef,
    action: str,
    update: Any,
    arg: ActorInput,
    key: str | None = None,
) -> DecisionOut:
    update_id = f"{action}/{arg.actor}/{key}" if key else None
    try:
        result = await asyncio.wait_for(
            send_update(request_handle(context.temporal, row.id), update, arg, update_id),
            _DECISION_WAIT_SECONDS,
        )
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError, RequestBusy) as exc:
        # The SDK turns the timeout's cancellation of its call into the second one.
        DECISIONS.labels(action, "pending").inc()
        why = (
            "cannot take the decision just now (its workflow is catching up)"
            if isinstance(exc, RequestBusy)
            else "has not taken the decision yet (no worker is running it); it may still be applied"
        )
        raise Problem(
            503,
            f"the request {why}: retry with the same Idempotency-Key",
            headers={"Retry-After": "5"},
        ) from None
    except RequestRefused as refused:
        DECISIONS.labels(action, "refused").inc()
        if refused.missing:
            raise closed_or_missing(row) from None
        raise (forbidden if refused.forbidden else conflict)(refused.reason) from None
    DECISIONS.labels(action, "applied").inc()
    return DecisionOut(request=result.request, events=result.events)


async def _row(session: SessionDep, user: Principal, request_id: str) -> RequestRef:
    return await request_in_org(session, user, request_id)


@router.post("/requests/{request_id}/approve", response_model=DecisionOut)
async def approve(
    request_id: str,
    body: ApproveBody,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
    idempotency_key: DecisionKey = None,
) -> DecisionOut:
    """Approve the current level (current approvers only); a retry with the same
    Idempotency-Key returns the first outcome instead of deciding again."""
    row = await _row(session, user, request_id)
    arg = ApproveInput(actor=user.user_id, ip=ip, comment=body.comment, level_id=body.level_id)
    return await _send(context, row, "approve", ApprovalWorkflow.approve, arg, idempotency_key)


@router.post("/requests/{request_id}/reject", response_model=DecisionOut)
async def reject(
    request_id: str,
    body: RejectBody,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
    idempotency_key: DecisionKey = None,
) -> DecisionOut:
    """Reject the request with a reason (current approvers only); a retry with the same
    Idempotency-Key returns the first outcome instead of deciding again."""
    row = await _row(session, user, request_id)
    arg = RejectInput(actor=user.user_id, ip=ip, reason=body.reason, level_id=body.level_id)
    return await _send(context, row, "reject", ApprovalWorkflow.reject, arg, idempotency_key)


@router.post("/requests/{request_id}/comments", response_model=DecisionOut)
async def comment(
    request_id: str,
    body: CommentBody,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> DecisionOut:
    """Comment (participants, MANAGEMENT and ADMIN)."""
    row = await _row(session, user, request_id)
    await require_participant(session, row, user)
    arg = CommentInput(actor=user.user_id, ip=ip, text=body.text)
    return await _send(context, row, "comment", ApprovalWorkflow.comment, arg)


@router.post("/requests/{request_id}/withdraw", response_model=DecisionOut)
async def withdraw(
    request_id: str,
    body: WithdrawBody,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> DecisionOut:
    """Withdraw the request (its requester only)."""
    row = await _row(session, user, request_id)
    arg = WithdrawInput(actor=user.user_id, ip=ip, reason=body.reason)
    return await _send(context, row, "withdraw", ApprovalWorkflow.withdraw, arg)


@router.post("/requests/{request_id}/skip", response_model=DecisionOut)
async def skip(
    request_id: str,
    body: SkipBody,
    user: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> DecisionOut:
    """Skip the current level or a named one (MANAGEMENT, ADMIN)."""
    row = await _row(session, user, request_id)
    arg = SkipLevelInput(actor=user.user_id, ip=ip, reason=body.reason, level_id=body.level_id)
    return await _send(context, row, "skip", ApprovalWorkflow.skip_level, arg)


@router.post("/requests/{request_id}/approvers", response_model=DecisionOut)
async def insert_approver(
    request_id: str,
    body: InsertApproverBody,
    user: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> DecisionOut:
    """Insert an approval level at a position (MANAGEMENT, ADMIN)."""
    row = await _row(session, user, request_id)
    await require_org_users(session, user.org_id, body.approvers)
    arg = InsertLevelInput(
        actor=user.user_id,
        ip=ip,
        reason=body.reason,
        position=body.position,
        approvers=body.approvers,
        name=body.name,
        mode=body.mode,
        required_approvals=body.required_approvals,
        tat=body.tat,
    )
    return await _send(context, row, "insert_approver", ApprovalWorkflow.insert_level, arg)


@router.post("/requests/{request_id}/reassign", response_model=DecisionOut)
async def reassign(
    request_id: str,
    body: ReassignBody,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> DecisionOut:
    """Move a pending approval (MANAGEMENT, ADMIN, or the approver delegating their own)."""
    row = await _row(session, user, request_id)
    if not (user.is_manager or body.from_user == user.user_id):
        raise forbidden("only MANAGEMENT, ADMIN or the approver themselves may reassign")
    await require_org_users(session, user.org_id, [body.to_user])
    arg = ReassignInput(
        actor=user.user_id,
        ip=ip,
        reason=body.reason,
        from_user=body.from_user,
        to_user=body.to_user,
    )
    return await _send(context, row, "reassign", ApprovalWorkflow.reassign, arg)


@router.post("/requests/{request_id}/pause", response_model=DecisionOut)
async def pause(
    request_id: str,
    body: ReasonBody,
    user: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> DecisionOut:
    """Stop the SLA clock (MANAGEMENT, ADMIN)."""
    row = await _row(session, user, request_id)
    arg = PauseInput(actor=user.user_id, ip=ip, reason=body.reason)
    return await _send(context, row, "pause", ApprovalWorkflow.pause, arg)


@router.post("/requests/{request_id}/resume", response_model=DecisionOut)
async def resume(
    request_id: str,
    body: ReasonBody,
    user: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
) -> DecisionOut:
    """Restart the SLA clock (MANAGEMENT, ADMIN)."""
    row = await _row(session, user, request_id)
    arg = ResumeInput(actor=user.user_id, ip=ip, reason=body.reason)
    return await _send(context, row, "resume", ApprovalWorkflow.resume, arg)
