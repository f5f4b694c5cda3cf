"""InvoiceWorkflow on the time-skipping server with the real activities, SQL and object store:
posted end to end, parked on a 3-way mismatch and continued, unreadable input, time limit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from schemas.invoice import (
    FieldCorrections,
    InvoiceOverride,
    InvoiceStatus,
    InvoiceStep,
)
from store.db import transaction
from store.erp_tables import ErpPosting
from store.invoice_tables import InvoiceRecord
from tests.conftest import WorkerFactory
from tests.invoicing.ap_world import WIDGETS, add_receipt, seed_ap_world
from tests.invoicing.einvoices import ubl_invoice
from tests.invoicing.flow import (
    approve_child,
    inbox_of,
    start_invoice_document,
    until_approval,
    until_state,
    widget_invoice,
)
from workflows.invoice import InvoiceWorkflow


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
        handle = await start_invoice_document(
            client, test_settings, task_queue, world, widget_invoice("A-100")
        )
        state = await until_approval(handle)
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
        await approve_child(client, state, world)
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
        handle = await start_invoice_document(
            client, test_settings, task_queue, world, widget_invoice("A-200")
        )
        parked = await until_state(handle, lambda s: s.status is InvoiceStatus.NEEDS_REVIEW)
        assert parked.step is InvoiceStep.VALIDATE
        assert parked.reason is not None
        assert "line 2 (Bolt): invoiced 100, received 60" in parked.reason
        # The AP team hears of it in their inbox.
        assert (world.clerk, "invoice_needs_review") in await inbox_of(engine, handle.id)
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
        state = await until_approval(handle)
        await approve_child(client, state, world)
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
        handle = await start_invoice_document(
            client, test_settings, task_queue, world, corrupt, filename="scan.pdf"
        )
        parked = await until_state(handle, lambda s: s.status is InvoiceStatus.NEEDS_REVIEW)
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
        state = await until_approval(handle)
        assert state.fields.total is not None and state.fields.total.source == "manual"
        await approve_child(client, state, world)
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
        handle = await start_invoice_document(client, test_settings, task_queue, world, unknown)
        parked = await until_state(handle, lambda s: s.status is InvoiceStatus.NEEDS_REVIEW)
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
        handle = await start_invoice_document(
            client, test_settings, task_queue, world, widget_invoice("A-400")
        )
        await until_approval(handle)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(
                InvoiceWorkflow.override,
                InvoiceOverride(actor="x", reason="why not", continue_at="post"),
            )
        cause: Any = refused.value.cause
        assert "only an invoice in NEEDS_REVIEW" in cause.message
        await handle.terminate("test over")
