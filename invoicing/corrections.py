"""An operator's corrections applied over extracted fields."""

from __future__ import annotations

from typing import Any

from schemas.invoice import FieldCorrections
from schemas.invoice_fields import Extracted, FieldSource, InvoiceFields


def apply_corrections(fields: InvoiceFields, corrections: FieldCorrections) -> InvoiceFields:
    """The fields with every corrected value replaced, marked manual with full confidence."""
    changed: dict[str, Any] = {
        name: Extracted[Any](value=value, source=FieldSource.MANUAL, confidence=1.0)
        for name, value in corrections.model_dump(exclude_none=True).items()
    }
    return fields.model_copy(update=changed)


def corrected_names(corrections: FieldCorrections) -> list[str]:
    """The names of the fields an override sets."""
    return sorted(corrections.model_dump(exclude_none=True))


def keep_manual(previous: InvoiceFields, extracted: InvoiceFields) -> InvoiceFields:
    """A new extraction's fields, except those a person set by hand before."""
    manual = {
        name: value
        for name in InvoiceFields.model_fields
        if isinstance(value := getattr(previous, name), Extracted)
        and value.source is FieldSource.MANUAL
    }
    return extracted.model_copy(update=manual)
