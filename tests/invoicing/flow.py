"""Driving an InvoiceWorkflow in tests: start it on stored documents, wait for a state,
approve its child request, read the AP team's inbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowHandle

from clients.invoices import invoice_policy, start_invoice
from config.secret_key import secret_key
from config.settings import Settings
from schemas.approval import ApproveInput
from schemas.invoice import DocumentRef, InvoiceInput, InvoiceResult, InvoiceState, InvoiceStep
from store.objects import make_object_store
from store.tables import Notification
from tests.invoicing.ap_world import WIDGETS, ApWorld
from tests.invoicing.einvoices import ubl_invoice
from workflows.approval import ApprovalWorkflow
from workflows.invoice import InvoiceWorkflow

Handle = WorkflowHandle[InvoiceWorkflow, InvoiceResult]


async def start_invoice_document(
    client: Client,
    settings: Settings,
    task_queue: str,
    world: ApWorld,
    document: bytes,
    *,
    filename: str = "invoice.xml",
    sender: str | None = "billing@acme.test",
) -> Handle:
    objects = make_object_store(settings, secret_key(settings))
    invoice_id = f"inv-test-{uuid.uuid4().hex[:12]}"
    key = f"requests/{invoice_id}/documents/{filename}"
    xml = filename.endswith(".xml")
    objects.put(key, document, "application/xml" if xml else "application/pdf")
    inp = InvoiceInput(
        invoice_id=invoice_id,
        org_id=world.org_id,
        source="email",
        submitted_by="mbx-test",
        sender=sender,
        subject="Invoice",
        documents=[
            DocumentRef(
                key=key,
                filename=filename,
                content_type="application/xml" if xml else "application/pdf",
                size=len(document),
                sha256="0" * 64,
                role="xml" if xml else "invoice",
            )
        ],
        policy=invoice_policy(settings).model_copy(update={"time_limit_days": 10}),
    )
    assert await start_invoice(client, task_queue, inp)
    return client.get_workflow_handle_for(InvoiceWorkflow.run, invoice_id)


async def until_state(handle: Handle, done: Callable[[InvoiceState], bool]) -> InvoiceState:
    """The invoice's state once `done` holds (activities run in real time: poll the query)."""
    for _ in range(300):
        state = await handle.query(InvoiceWorkflow.state)
        if done(state):
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"never reached: last state {state.status} at {state.step}")


async def until_approval(handle: Handle) -> InvoiceState:
    """The state once the invoice's approval request has started."""
    return await until_state(
        handle, lambda s: s.step is InvoiceStep.APPROVE and s.approval_request_id is not None
    )


async def inbox_of(engine: Engine, invoice_id: str) -> list[tuple[str, str]]:
    """The invoice's inbox entries (recipient, kind), once the notice has been written."""
    for _ in range(100):
        with Session(engine) as session:
            rows = session.exec(
                select(Notification.recipient, Notification.kind).where(
                    col(Notification.request_id) == invoice_id
                )
            ).all()
        if rows:
            return [(r, k) for r, k in rows]
        await asyncio.sleep(0.1)
    return []


async def approve_child(client: Client, state: InvoiceState, world: ApWorld) -> None:
    assert state.approval_request_id is not None
    child = client.get_workflow_handle(state.approval_request_id)
    await child.execute_update(
        ApprovalWorkflow.approve, ApproveInput(actor=world.approver, comment="ok")
    )


def widget_invoice(number: str, lines: list[tuple[str, Decimal, Decimal]] | None = None) -> bytes:
    return ubl_invoice(
        number=number,
        supplier="Acme Supplies GmbH",
        customer="Globex Buyer Ltd",
        po_number="PO-1",
        lines=lines or WIDGETS,
    )
