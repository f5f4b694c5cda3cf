"""An invoice's state as its read-model row."""

from __future__ import annotations

from datetime import datetime

from schemas.invoice import InvoiceState
from schemas.text import without_nul


def invoice_row(state: InvoiceState, now: datetime) -> dict[str, object]:
    """The read-model row of an invoice state (text cut to its columns, NULs dropped)."""
    row = _row(state, now)
    return {k: without_nul(v) if isinstance(v, str) else v for k, v in row.items()}


def _row(state: InvoiceState, now: datetime) -> dict[str, object]:
    fields = state.fields
    validation = state.validation
    return {
        "id": state.invoice_id,
        "org_id": state.org_id,
        "source": state.source,
        "status": state.status.value,
        "step": state.step.value,
        "reason": (state.reason or "")[:2000] or None,
        "supplier_id": validation.supplier_id if validation else None,
        "supplier_name": (
            validation.supplier_name
            if validation and validation.supplier_name
            else (fields.supplier_name.value[:200] if fields.supplier_name else None)
        ),
        "invoice_number": fields.invoice_number.value[:100] if fields.invoice_number else None,
        "invoice_date": fields.invoice_date.value if fields.invoice_date else None,
        "total": fields.total.value if fields.total else None,
        "currency": fields.currency.value[:3] if fields.currency else None,
        "approval_request_id": state.approval_request_id,
        "erp_document": state.erp_document,
        "sender": state.sender[:320] if state.sender else None,
        "detail": state.model_dump(mode="json"),
        "created_at": state.created_at,
        "updated_at": now,
        "version": state.version,
    }
