"""Requests: start (idempotently), list from the read model, read the live state."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.service import RPCError

from api.access import RequestRef, request_in_org, require_participant
from api.deps import ContextDep, CurrentUser, Principal, SessionDep
from api.observability import WORKFLOW_STARTS
from api.problems import Problem, conflict
from bizcal.holidays import snapshot_calendar
from clients.approvals import RequestRefused, read_state, request_handle, start_request
from schemas.approval import ApprovalInput, AuditEvent, RequestState
from schemas.request_api import (
    DocumentOut,
    RequestDetail,
    RequestPage,
    RequestSummary,
    StartRequest,
)
from store.master_data import NotFound, org_calendar, template_query, template_snapshot
from store.tables import (
    AuditRecord,
    Document,
    IdempotencyKey,
    Org,
    RequestAssignee,
    RequestRecord,
)

router = APIRouter(tags=["requests"])

# Ids made from an Idempotency-Key: the same key of the same caller is the same workflow id.
_IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c8d1e-7a43-4e3a-9d7e-5b0c2f4a9e11")
# Who sees the callers' IPs in a request's audit trail: the roles of the audit export
# (GET /audit, ManagerUser), not every participant of the request.
_SEES_IPS = frozenset({"ADMIN", "MANAGEMENT"})


def _as_seen_by(user: Principal, state: RequestState) -> RequestState:
    """The state with `detail.ip` left out of its audit trail, unless the caller may audit."""
    if _SEES_IPS & set(user.roles):
        return state
    audit = [
        event.model_copy(update={"detail": {k: v for k, v in event.detail.items() if k != "ip"}})
        for event in state.audit
    ]
    return state.model_copy(update={"audit": audit})


def _body_hash(body: StartRequest) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _documents(session: AsyncSession, request_id: str) -> list[DocumentOut]:
    rows = await session.exec(
        select(Document)
        .where(col(Document.request_id) == request_id)
        .order_by(col(Document.created_at))
    )
    return [DocumentOut.model_validate(r, from_attributes=True) for r in rows]


async def _approval_input(
    context: ContextDep, session: AsyncSession, user: Principal, body: StartRequest
) -> ApprovalInput:
    try:
        row = (
            await session.exec(
                template_query(user.org_id, body.template_key, body.template_version)
            )
        ).first()
        template = template_snapshot(row, body.template_key, body.template_version)
        calendar = org_calendar(await session.get(Org, user.org_id), user.org_id)
        snapshot = snapshot_calendar(
            calendar, datetime.now(UTC).year, context.settings.holiday_years_ahead
        )
        return ApprovalInput(
            org_id=user.org_id,
            template=template,
            calendar=snapshot,
            requester=user.user_id,
            title=body.title,
            amount=body.amount,
            currency=body.currency,
            department=body.department,
            priority=body.priority,
            fields=body.fields,
        )
    except NotFound as missing:
        raise Problem(422, f"{missing} does not exist in this org") from None
    except ValidationError as invalid:
        raise Problem(422, "; ".join(e["msg"] for e in invalid.errors())) from None


async def _claim_key(
    session: AsyncSession, user: Principal, key: str, digest: str
) -> tuple[str, bool]:
    """The request id for an Idempotency-Key, and whether it was used before."""
    request_id = f"req-{uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f'{user.org_id}/{user.user_id}/{key}')}"
    record = IdempotencyKey(
        org_id=user.org_id,
        user_id=user.user_id,
        key=key,
        body_sha256=digest,
        request_id=request_id,
        created_at=datetime.now(UTC),
    )
    session.add(record)
    try:
        await session.commit()
        return request_id, False
    except IntegrityError:
        await session.rollback()
    earlier = await session.get(IdempotencyKey, (user.org_id, user.user_id, key))
    assert earlier is not None
    if earlier.body_sha256 != digest:
        raise Problem(422, "this Idempotency-Key was already used with a different request body")
    return earlier.request_id, True


@router.post("/requests", response_model=RequestDetail, status_code=201)
async def start(
    body: StartRequest,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> RequestDetail:
    """Start a request; the same Idempotency-Key and body return the same request."""
    inp = await _approval_input(context, session, user, body)
    request_id, replay = (
        await _claim_key(session, user, idempotency_key, _body_hash(body))
        if idempotency_key
        else (f"req-{uuid.uuid4()}", False)
    )
    handle, opened = await start_request(
        context.temporal,
        context.settings.task_queue,
        inp,
        request_id,
        reuse_existing=idempotency_key is not None,
    )
    if replay:
        response.status_code = 200
    else:
        WORKFLOW_STARTS.labels(inp.template.key).inc()
    response.headers["Location"] = f"/api/v1/requests/{handle.id}"
    # A replayed Idempotency-Key answers with the whole trail so far, others' decisions too.
    state = _as_seen_by(user, opened.request.model_copy(update={"audit": opened.events}))
    return RequestDetail(
        request=state, documents=await _documents(session, handle.id), source="workflow"
    )


@router.get("/requests", response_model=RequestPage)
async def list_requests(
    user: CurrentUser,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=32)] = None,
    template: Annotated[str | None, Query(max_length=100)] = None,
    sla_state: Annotated[
        Literal["ON_TRACK", "AT_RISK", "BREACHED", "PAUSED"] | None, Query()
    ] = None,
    mine: bool = False,
    assigned_to_me: bool = False,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> RequestPage:
    """The org's requests, newest first, from the read model."""
    query = select(RequestRecord).where(col(RequestRecord.org_id) == user.org_id)
    if status:
        query = query.where(col(RequestRecord.status) == status)
    if template:
        query = query.where(col(RequestRecord.template_key) == template)
    if sla_state:
        query = query.where(col(RequestRecord.sla_state) == sla_state)
    if mine:
        query = query.where(col(RequestRecord.requester) == user.user_id)
    if assigned_to_me:
        assigned = select(RequestAssignee.request_id).where(
            col(RequestAssignee.user_id) == user.user_id,
            col(RequestAssignee.org_id) == user.org_id,
        )
        query = query.where(col(RequestRecord.id).in_(assigned))
    for bound, compare in ((created_from, "__ge__"), (created_to, "__lt__")):
        if bound is not None:
            aware = bound if bound.tzinfo else bound.replace(tzinfo=UTC)
            query = query.where(getattr(col(RequestRecord.created_at), compare)(aware))
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = await session.exec(
        query.order_by(col(RequestRecord.created_at).desc(), col(RequestRecord.id))
        .limit(limit)
        .offset(offset)
    )
    items = [RequestSummary.model_validate(r, from_attributes=True) for r in rows]
    return RequestPage(items=items, total=total, limit=limit, offset=offset)


async def _from_read_model(session: AsyncSession, row: RequestRecord) -> RequestState:
    audit = await session.exec(
        select(AuditRecord)
        .where(col(AuditRecord.request_id) == row.id)
        .order_by(col(AuditRecord.seq))
    )
    events = [AuditEvent.model_validate(a, from_attributes=True) for a in audit]
    return RequestState.model_validate(row.snapshot | {"audit": events})


@router.get("/requests/{request_id}", response_model=RequestDetail)
async def get_request(
    request_id: str, user: CurrentUser, session: SessionDep, context: ContextDep
) -> RequestDetail:
    """Live state from the workflow; the SQL copy when the workflow cannot answer."""
    ref = await request_in_org(session, user, request_id)
    await require_participant(session, ref, user)
    source: Literal["workflow", "read_model"] = "workflow"
    try:
        state = await read_state(
            request_handle(context.temporal, request_id), rpc_timeout=timedelta(seconds=5)
        )
    except (RequestRefused, RPCError):
        row = await session.get(RequestRecord, request_id)
        assert row is not None
        state, source = await _from_read_model(session, row), "read_model"
    return RequestDetail(
        request=_as_seen_by(user, state),
        documents=await _documents(session, request_id),
        source=source,
    )


def closed_or_missing(request: RequestRef) -> Problem:
    """The problem for a request whose workflow no longer takes messages."""
    return conflict(f"the request is {request.status} and takes no more decisions")
