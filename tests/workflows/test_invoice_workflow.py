"""InvoiceWorkflow on the time-skipping server with the real activities, SQL and object store:
posted end to end, parked on a 3-way mismatch and continued, unreadable input, time limit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from clients.invoices import invoice_policy, start_invoice
from config.secret_key import secret_key
from config.settings import Settings
from schemas.approval import ApproveInput
from schemas.invoice import (
    DocumentRef,
    FieldCorrections,
    InvoiceInput,
    InvoiceOverride,
    InvoiceResult,
    InvoiceState,
    InvoiceStatus,
    InvoiceStep,
)
from store.db import transaction
from store.erp_tables import ErpPosting
from store.invoice_tables import InvoiceRecord
from store.objects import make_object_store
from store.tables import Notification
from tests.conftest import WorkerFactory
from tests.invoicing.ap_world import WIDGETS, ApWorld, add_receipt, seed_ap_world
from tests.invoicing.einvoices import ubl_invoice
from workflows.approval import ApprovalWorkflow
from workflows.invoice import InvoiceWorkflow

Handle = WorkflowHandle[InvoiceWorkflow, InvoiceResult]


async def _start(
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


async def _until(handle: Handle, done: Callable[[InvoiceState], bool]) -> InvoiceState:
    """The invoice's state once `done` holds (activities run in real time: poll the query)."""
    for _ in range(300):
        state = await handle.query(InvoiceWorkflow.state)
        if done(state):
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"never reached: last state {state.status} at {state.step}")


async def _inbox(engine: Engine, invoice_id: str) -> list[tuple[str, str]]:
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


async def _approve(client: Client, state: InvoiceState, world: ApWorld) -> None:
    assert state.approval_request_id is not None
    child = client.get_workflow_handle(state.approval_request_id)
    await child.execute_update(
        ApprovalWorkflow.approve, ApproveInput(actor=world.approver, comment="ok")
    )


def _invoice(number: str, lines: list[tuple[str, Decimal, Decimal]] | None = None) -> bytes:
    return ubl_invoice(
        number=number,
        supplier="Acme Supplies GmbH",
        customer="Globex Buyer Ltd",
        po_number="PO-1",
        lines=lines or WIDGETS,
    )


async def test_an_invoice_is_extracted_validated_approved_and_posted(
    time_skipping_env: WorkflowEnvironment,
    approval_worker: WorkerFactory,
    test_settings: Settings,
    engine: Engine,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    world = seed_ap_world(engine)
    async with approval_worker(client):
        handle = await _start(client, test_settings, task_queue, world, _invoice("A-100"))
        state = await _until(handle, lambda s: s.step is InvoiceStep.APPROVE)
        assert state.status is InvoiceStatus.IN_PROGRESS
        assert state.validation is not None
        outcomes = {c.name: c.outcome for c in state.validation.checks}
        assert outcomes == {
            "required_fields": "passed",
            "supplier": "passed",
            "sender_domain": "passed",
            "customer_name": "passed",
            "duplicate": "passed",
            "totals": "passed",
            "purchase_order": "passed",
        }
        await _approve(client, state, world)
        result = await handle.result()
        final = await handle.query(InvoiceWorkflow.state)
    assert result.status is InvoiceStatus.POSTED
    assert result.erp_document and result.erp_document.startswith("AP-")
    with Session(engine) as session:
        row = session.get(InvoiceRecord, handle.id)
        posting = session.get(ErpPosting, handle.id)
    assert row is not None and row.status == "POSTED" and row.step == "done"
    assert row.invoice_number == "A-100" and row.total == Decimal("41.65")
    assert posting is not None and posting.document_number == result.erp_document
    assert [e.kind for e in final.events][0] == "started"
    assert final.events[-1].kind == "finished"


async def test_a_three_way_mismatch_parks_and_an_override_continues_at_validate(
    time_skipping_env: WorkflowEnvironment,
    approval_worker: WorkerFactory,
    test_settings: Settings,
    engine: Engine,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    world = seed_ap_world(engine, received=[Decimal(10), Decimal(60)])  # 40 bolts missing
    async with approval_worker(client):
        handle = await _start(client, test_settings, task_queue, world, _invoice("A-200"))
        parked = await _until(handle, lambda s: s.status is InvoiceStatus.NEEDS_REVIEW)
        assert parked.step is InvoiceStep.VALIDATE
        assert parked.reason is not None
        assert "line 2 (Bolt): invoiced 100, received 60" in parked.reason
        # The AP team hears of it in their inbox.
        assert (world.clerk, "invoice_needs_review") in await _inbox(engine, handle.id)
        # An override needs a known check name to waive.
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                InvoiceWorkflow.override,
                InvoiceOverride(
                    actor="boss", reason="x" * 5, continue_at="validate", waive_checks=["nope"]
                ),
            )
        # The missing bolts arrive; the clerk continues the invoice at validate.
        with transaction(engine) as session:
            add_receipt(session, world, [Decimal(0), Decimal(40)])
        after = await handle.execute_update(
            InvoiceWorkflow.override,
            InvoiceOverride(
                actor=world.clerk, reason="the rest of the bolts came", continue_at="validate"
            ),
        )
        assert after.status is InvoiceStatus.IN_PROGRESS
        state = await _until(handle, lambda s: s.step is InvoiceStep.APPROVE)
        await _approve(client, state, world)
        result = await handle.result()
        final = await handle.query(InvoiceWorkflow.state)
    assert result.status is InvoiceStatus.POSTED
    override = next(e for e in final.events if e.kind == "override")
    assert override.actor == world.clerk and "continue at validate" in override.detail


async def test_an_unreadable_pdf_parks_at_extract_and_manual_fields_carry_it_on(
    time_skipping_env: WorkflowEnvironment,
    approval_worker: WorkerFactory,
    test_settings: Settings,
    engine: Engine,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    world = seed_ap_world(engine)
    corrupt = b"%PDF-1.7\n" + b"\x8f garbage " * 200
    async with approval_worker(client):
        handle = await _start(
            client, test_settings, task_queue, world, corrupt, filename="scan.pdf"
        )
        parked = await _until(handle, lambda s: s.status is InvoiceStatus.NEEDS_REVIEW)
        assert parked.step is InvoiceStep.EXTRACT
        assert parked.reason is not None and parked.reason.startswith("scan.pdf:")
        fields = FieldCorrections(
            invoice_number="A-300",
            currency="EUR",
            total=Decimal("41.65"),
            subtotal=Decimal("35.00"),
            tax=Decimal("6.65"),
            supplier_name="Acme Supplies GmbH",
            customer_name="Globex Buyer Ltd",
            po_number="PO-1",
        )
        await handle.execute_update(
            InvoiceWorkflow.override,
            InvoiceOverride(
                actor=world.clerk,
                reason="typed in from paper",
                continue_at="validate",
                fields=fields,
            ),
        )
        state = await _until(handle, lambda s: s.step is InvoiceStep.APPROVE)
        assert state.fields.total is not None and state.fields.total.source == "manual"
        await _approve(client, state, world)
        assert (await handle.result()).status is InvoiceStatus.POSTED


async def test_a_parked_invoice_is_reminded_and_fails_at_its_time_limit(
    time_skipping_env: WorkflowEnvironment,
    approval_worker: WorkerFactory,
    test_settings: Settings,
    engine: Engine,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    world = seed_ap_world(engine)
    unknown = ubl_invoice(
        number="B-1", supplier="Nobody Ltd", customer="Globex", lines=WIDGETS, vat_id="FR0000"
    )
    async with approval_worker(client):
        handle = await _start(client, test_settings, task_queue, world, unknown)
        parked = await _until(handle, lambda s: s.status is InvoiceStatus.NEEDS_REVIEW)
        assert "supplier: no supplier in the ERP matches Nobody Ltd" in (parked.reason or "")
        await time_skipping_env.sleep(timedelta(days=10, hours=1))
        result = await handle.result()
        final = await handle.query(InvoiceWorkflow.state)
    assert result.status is InvoiceStatus.FAILED
    assert result.reason and result.reason.startswith("time limit reached")
    reminders = [e for e in final.events if e.kind == "reminder"]
    assert len(reminders) == 9  # one a day (24 h) after the first notice, until day 10
    with Session(engine) as session:
        row = session.get(InvoiceRecord, handle.id)
    assert row is not None and row.status == "FAILED"


async def test_overrides_are_refused_unless_the_invoice_waits_for_review(
    time_skipping_env: WorkflowEnvironment,
    approval_worker: WorkerFactory,
    test_settings: Settings,
    engine: Engine,
    task_queue: str,
) -> None:
    client = time_skipping_env.client
    world = seed_ap_world(engine)
    async with approval_worker(client):
        handle = await _start(client, test_settings, task_queue, world, _invoice("A-400"))
        await _until(handle, lambda s: s.step is InvoiceStep.APPROVE)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                InvoiceWorkflow.override,
                InvoiceOverride(actor="x", reason="why not", continue_at="post"),
            )
        cause: Any = refused.value.cause
        assert "only an invoice in NEEDS_REVIEW" in cause.message
        await handle.terminate("test over")
