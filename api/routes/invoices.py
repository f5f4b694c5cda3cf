"""Invoices: upload by hand, list and read, and the override that continues a parked one."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.concurrency import run_in_threadpool
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import ContextDep, CurrentUser, ManagerUser, SessionDep
from api.invoice_filters import InvoiceFiltersDep
from api.org_rows import owned
from api.problems import Problem, conflict
from api.routes.documents import read_limited
from clients.invoices import invoice_handle, invoice_policy, start_invoice
from intake.documents import invoice_files, invoice_id_for
from intake.mail import Attachment, document_role, sniff
from invoicing.rows import invoice_row
from schemas.invoice import InvoiceInput, InvoiceOverride, InvoiceState, InvoiceStatus
from schemas.invoice_api import (
    InvoiceAccepted,
    InvoiceDetail,
    InvoiceDocumentOut,
    InvoicePage,
    InvoiceSummary,
    OverrideBody,
)
from store.invoice_tables import IntakeEntry, InvoiceRecord

router = APIRouter(tags=["invoices"])

InvoiceId = Annotated[str, Path(min_length=1, max_length=128)]


def summary(row: InvoiceRecord) -> InvoiceSummary:
    """The list view of a read-model row."""
    return InvoiceSummary.model_validate(row, from_attributes=True)


async def _invoice(session: AsyncSession, org_id: str, invoice_id: str) -> InvoiceRecord:
    return await owned(session, InvoiceRecord, invoice_id, org_id, "invoice")


def _detail(row: InvoiceRecord, context: ContextDep) -> InvoiceDetail:
    state = InvoiceState.model_validate(row.detail)
    documents = [
        InvoiceDocumentOut(
            filename=d.filename,
            role=d.role,
            content_type=d.content_type,
            size=d.size,
            url=context.objects.signed_url(d.key, d.filename, d.content_type),
        )
        for d in state.documents
    ]
    return InvoiceDetail(
        **summary(row).model_dump(),
        fields=state.fields,
        extraction_method=state.extraction_method,
        checks=state.validation.checks if state.validation else [],
        waived_checks=state.waived_checks,
        deadline=state.deadline,
        subject=state.subject,
        events=state.events,
        documents=documents,
    )


@router.get("/invoices", response_model=InvoicePage)
async def list_invoices(
    user: CurrentUser,
    session: SessionDep,
    filters: InvoiceFiltersDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> InvoicePage:
    """The org's invoices, newest first, filtered by status, step, supplier, reason, dates."""
    query = filters.apply(select(InvoiceRecord), user.org_id)
    total = (await session.exec(filters.apply(select(func.count()), user.org_id))).one()
    rows = await session.exec(
        query.order_by(col(InvoiceRecord.created_at).desc(), col(InvoiceRecord.id))
        .limit(limit)
        .offset(offset)
    )
    return InvoicePage(items=[summary(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetail)
async def get_invoice(
    invoice_id: InvoiceId, user: CurrentUser, session: SessionDep, context: ContextDep
) -> InvoiceDetail:
    """One invoice: fields with source and confidence, checks, trail, signed document links."""
    return _detail(await _invoice(session, user.org_id, invoice_id), context)


@router.post(
    "/invoices",
    response_model=InvoiceAccepted,
    status_code=202,
    responses={
        409: {"description": "This file was uploaded before"},
        413: {"description": "Too large"},
        415: {"description": "Not a PDF or an e-invoice XML"},
    },
)
async def upload_invoice(
    file: Annotated[UploadFile, File(description="The invoice: a PDF or a UBL/CII XML")],
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
) -> InvoiceAccepted:
    """Run the invoice workflow on a file uploaded by hand (the same as an e-mailed one)."""
    data = await read_limited(file, context.settings.invoice_max_bytes)
    if not data:
        raise Problem(422, "the file is empty")
    kind = sniff(data)
    if kind not in ("pdf", "xml"):
        raise Problem(415, "an invoice is a PDF or a UBL/CII e-invoice XML file")
    digest = hashlib.sha256(data).hexdigest()
    # The same file always maps to the same invoice: a second upload (or a client's retry
    # after a timeout) finds its workflow started already and is told which invoice it is.
    invoice_id = invoice_id_for(user.org_id, f"upload:sha256:{digest}")
    now = datetime.now(UTC)
    name = (file.filename or f"invoice.{kind}").replace("\\", "/").rsplit("/", 1)[-1][:120]
    attachment = Attachment(name, f"application/{kind}", data, kind, document_role(name, kind))
    if attachment.role not in ("invoice", "xml"):  # an upload is the invoice, whatever its name
        attachment = Attachment(name, attachment.content_type, data, kind, "invoice")
    files, manifest = invoice_files(
        invoice_id,
        [attachment],
        raw_mail=None,
        metadata={"uploaded_by": user.user_id, "filename": name},
        received_at=now,
    )
    for stored in [*files, manifest]:
        await run_in_threadpool(
            context.objects.put, stored.ref.key, stored.data, stored.ref.content_type
        )
    started = await start_invoice(
        context.temporal,
        context.settings.task_queue,
        InvoiceInput(
            invoice_id=invoice_id,
            org_id=user.org_id,
            source="upload",
            submitted_by=user.user_id,
            documents=[f.ref for f in files],
            policy=invoice_policy(context.settings),
        ),
    )
    if not started:
        raise conflict(f"this file was uploaded before as invoice {invoice_id}")
    session.add(
        IntakeEntry(
            id=f"in-{uuid.uuid4()}",
            org_id=user.org_id,
            content_sha256=digest,
            sender=user.email,
            subject=f"uploaded {name}",
            outcome="accepted",
            invoice_id=invoice_id,
            raw_key=files[0].ref.key,
            seen_at=now,
        )
    )
    await session.commit()
    return InvoiceAccepted(id=invoice_id, status=InvoiceStatus.IN_PROGRESS)


@router.post(
    "/invoices/{invoice_id}/override",
    response_model=InvoiceDetail,
    responses={409: {"description": "The invoice is not waiting for review"}},
)
async def override_invoice(
    invoice_id: InvoiceId,
    body: OverrideBody,
    user: ManagerUser,
    session: SessionDep,
    context: ContextDep,
) -> InvoiceDetail:
    """Correct a parked invoice's fields and continue it at a named step; reason required."""
    row = await _invoice(session, user.org_id, invoice_id)
    change = InvoiceOverride(actor=user.user_id, **body.model_dump())
    handle = invoice_handle(context.temporal, invoice_id)
    try:
        state = await handle.execute_update("override", change, result_type=InvoiceState)
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        detail = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        raise conflict(detail) from None
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
            raise conflict(f"the invoice is {row.status}: it takes no more overrides") from None
        raise
    return _detail(_row_from(state), context)


def _row_from(state: InvoiceState) -> InvoiceRecord:
    """The row as the state just returned says (the read model catches up in a moment)."""
    values: dict[str, Any] = invoice_row(state, datetime.now(UTC))
    return InvoiceRecord.model_validate(values)
