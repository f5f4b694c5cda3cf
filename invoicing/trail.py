"""The invoice's trail of events and the words operators see for it in the Temporal Web UI."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from schemas.invoice import InvoiceEvent, InvoiceState, InvoiceStatus

EventKind = Literal["started", "step", "parked", "override", "reminder", "finished"]


def add_event(state: InvoiceState, at: datetime, kind: EventKind, actor: str, detail: str) -> None:
    """Append an event and move the state's version on (the read model keys on it)."""
    state.version += 1
    state.events.append(
        InvoiceEvent(
            seq=state.version, at=at, kind=kind, actor=actor, step=state.step, detail=detail
        )
    )


def current_details(state: InvoiceState) -> str:
    """Where the invoice stands, in words (markdown), for the Web UI's current details."""
    fields = state.fields
    supplier = fields.supplier_name.value if fields.supplier_name else "unknown supplier"
    number = fields.invoice_number.value if fields.invoice_number else "no number yet"
    total = (
        f"{fields.total.value} {fields.currency.value if fields.currency else ''}".strip()
        if fields.total
        else "no total yet"
    )
    head = f"**Invoice {number}** from {supplier}, {total}"
    if state.status is InvoiceStatus.NEEDS_REVIEW:
        where = f"**NEEDS REVIEW** at step `{state.step}`: {state.reason}"
    elif state.status is InvoiceStatus.IN_PROGRESS:
        where = f"In progress at step `{state.step}`"
        if state.approval_request_id and state.step == "approve":
            where += f" (approval request `{state.approval_request_id}`)"
    else:
        where = f"**{state.status.value}**" + (f": {state.reason}" if state.reason else "")
        if state.erp_document:
            where += f" (ERP document {state.erp_document})"
    return f"{head}\n\n{where}"


def search_values(state: InvoiceState) -> dict[str, Any]:
    """The search attribute values operators filter invoices on."""
    fields = state.fields
    return {
        "status": state.status.value,
        "supplier": fields.supplier_name.value if fields.supplier_name else None,
        "amount": float(fields.total.value) if fields.total else None,
    }
