"""Start invoice workflows and send them overrides."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from config.settings import Settings
from schemas import search_attributes as sa
from schemas.invoice import InvoiceInput, InvoicePolicy
from workflows.invoice import InvoiceWorkflow

INVOICE_TEMPLATE_ATTRIBUTE = "invoice"

InvoiceHandle = WorkflowHandle[InvoiceWorkflow, Any]


def invoice_policy(settings: Settings) -> InvoicePolicy:
    """The policy a new invoice runs under, from the settings."""
    return InvoicePolicy(
        time_limit_days=settings.invoice_time_limit_days,
        review_reminder_hours=settings.invoice_review_reminder_hours,
        template_key=settings.invoice_template_key,
        quantity_tolerance=settings.invoice_quantity_tolerance,
        price_tolerance=settings.invoice_price_tolerance,
        total_tolerance=settings.invoice_total_tolerance,
    )


async def start_invoice(client: Client, task_queue: str, inp: InvoiceInput) -> bool:
    """Start the invoice's workflow; False when that id was started before (never twice,
    even after it closed)."""
    try:
        await client.start_workflow(
            InvoiceWorkflow.run,
            inp,
            id=inp.invoice_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.ORG, inp.org_id),
                    SearchAttributePair(sa.TEMPLATE, INVOICE_TEMPLATE_ATTRIBUTE),
                    SearchAttributePair(sa.STATUS, "IN_PROGRESS"),
                ]
            ),
            static_summary=f"Invoice from {inp.sender or inp.source}"[:200],
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def invoice_handle(client: Client, invoice_id: str) -> InvoiceHandle:
    """The handle of an invoice's workflow."""
    handle: InvoiceHandle = client.get_workflow_handle_for(InvoiceWorkflow.run, invoice_id)
    return handle
