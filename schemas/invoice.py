"""The invoice workflow's contract: its input, state, the override update and its activities."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from schemas.approval import ApprovalInput
from schemas.invoice_fields import ExtractionMethod, InvoiceFields
from schemas.text import Text


class InvoiceStep(StrEnum):
    """The named steps, in order; an override continues at one of the first four."""

    EXTRACT = "extract"
    VALIDATE = "validate"
    APPROVE = "approve"
    POST = "post"
    DONE = "done"


STEP_ORDER: tuple[InvoiceStep, ...] = tuple(InvoiceStep)


class InvoiceStatus(StrEnum):
    """Where an invoice stands; POSTED, REJECTED and FAILED are final."""

    IN_PROGRESS = "IN_PROGRESS"
    NEEDS_REVIEW = "NEEDS_REVIEW"
    POSTED = "POSTED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"


DocumentRole = Literal["invoice", "xml", "purchase_order", "goods_receipt", "other", "raw_mail"]


class DocumentRef(BaseModel):
    """A stored file of the invoice: its object key and what it is."""

    key: str = Field(max_length=500)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int = Field(ge=0)
    sha256: str = Field(max_length=64)
    role: DocumentRole


class InvoicePolicy(BaseModel):
    """The settings an invoice runs under, frozen at its start so replay never reads them."""

    time_limit_days: int = Field(ge=1)
    review_reminder_hours: float = Field(gt=0)
    template_key: str
    quantity_tolerance: float = Field(ge=0)
    price_tolerance: float = Field(ge=0)
    total_tolerance: Decimal = Field(ge=0)


class InvoiceInput(BaseModel):
    """Start an invoice: where it came from, its stored documents and the policy."""

    invoice_id: str
    org_id: str
    source: Literal["email", "upload"]
    submitted_by: str = Field(description="The uploading user's id, or the mailbox id.")
    sender: str | None = Field(default=None, description="The e-mail sender's address.")
    subject: str | None = None
    documents: list[DocumentRef] = Field(min_length=1)
    policy: InvoicePolicy


class CheckResult(BaseModel):
    """One validation check: passed, a warning (routes the approval), or an error (parks)."""

    name: str
    outcome: Literal["passed", "warning", "error", "waived"]
    message: str


class ValidationReport(BaseModel):
    """The outcome of every check and what they found in the ERP."""

    checks: list[CheckResult]
    supplier_id: str | None = None
    supplier_name: str | None = None
    department: str | None = None

    @property
    def errors(self) -> list[CheckResult]:
        """The checks that park the invoice."""
        return [c for c in self.checks if c.outcome == "error"]

    @property
    def warnings(self) -> list[str]:
        """The names of the checks that passed with a warning."""
        return [c.name for c in self.checks if c.outcome == "warning"]


class InvoiceEvent(BaseModel):
    """One entry of the invoice's trail: a step reached, a park, an override, the end."""

    seq: int = Field(ge=1)
    at: datetime
    kind: Literal["started", "step", "parked", "override", "reminder", "finished"]
    actor: str
    step: InvoiceStep
    detail: str


class InvoiceState(BaseModel):
    """An invoice's state as the workflow holds it; `version` grows with every change."""

    invoice_id: str
    org_id: str
    source: Literal["email", "upload"]
    sender: str | None = None
    subject: str | None = None
    documents: list[DocumentRef] = Field(default_factory=list)
    status: InvoiceStatus = InvoiceStatus.IN_PROGRESS
    step: InvoiceStep = InvoiceStep.EXTRACT
    reason: str | None = None
    fields: InvoiceFields = Field(default_factory=InvoiceFields)
    extraction_method: ExtractionMethod | None = None
    validation: ValidationReport | None = None
    waived_checks: list[str] = Field(default_factory=list)
    approval_request_id: str | None = None
    erp_document: str | None = None
    created_at: datetime
    deadline: datetime
    version: int = 0
    events: list[InvoiceEvent] = Field(default_factory=list)


class FieldCorrections(BaseModel):
    """Values an operator sets by hand; each replaces the extracted one (source manual)."""

    invoice_number: Text | None = Field(default=None, min_length=1, max_length=100)
    invoice_date: date | None = None
    due_date: date | None = None
    currency: Text | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    total: Decimal | None = Field(default=None, ge=0, le=Decimal("1e12"), decimal_places=4)
    subtotal: Decimal | None = Field(default=None, ge=0, le=Decimal("1e12"), decimal_places=4)
    tax: Decimal | None = Field(default=None, ge=0, le=Decimal("1e12"), decimal_places=4)
    supplier_name: Text | None = Field(default=None, min_length=1, max_length=200)
    supplier_vat_id: Text | None = Field(default=None, min_length=2, max_length=40)
    customer_name: Text | None = Field(default=None, min_length=1, max_length=200)
    po_number: Text | None = Field(default=None, min_length=1, max_length=64)
    iban: Text | None = Field(default=None, min_length=5, max_length=40)


class InvoiceOverride(BaseModel):
    """Fix a parked invoice and continue it at a named step; reason required."""

    actor: Text = Field(min_length=1)
    reason: Text = Field(min_length=3, max_length=2000)
    continue_at: Literal["extract", "validate", "approve", "post"]
    fields: FieldCorrections = Field(default_factory=FieldCorrections)
    waive_checks: list[Text] = Field(
        default_factory=list,
        max_length=20,
        description="Validation checks to accept although they failed (named in the report).",
    )

    @model_validator(mode="after")
    def _waivers_need_validation(self) -> InvoiceOverride:
        if self.waive_checks and self.continue_at not in ("extract", "validate"):
            raise ValueError("waive_checks applies only when continuing at extract or validate")
        return self


class InvoiceResult(BaseModel):
    """How an invoice ended."""

    invoice_id: str
    status: InvoiceStatus
    reason: str | None = None
    erp_document: str | None = None


# ---- activities -----------------------------------------------------------------------------


class ExtractFieldsInput(BaseModel):
    """Read the invoice's documents."""

    invoice_id: str
    documents: list[DocumentRef]


class ExtractFieldsOutput(BaseModel):
    """The fields read, or why the documents cannot be read."""

    fields: InvoiceFields | None = None
    method: ExtractionMethod | None = None
    pages: int = 0
    ocr_pages: int = 0
    problem: str | None = None


class ValidateInvoiceInput(BaseModel):
    """Check the invoice against the ERP and the org's earlier invoices."""

    invoice_id: str
    org_id: str
    sender: str | None
    fields: InvoiceFields
    waived_checks: list[str]
    policy: InvoicePolicy


class PrepareApprovalInput(BaseModel):
    """Build the approval request's input for an invoice from the invoice template."""

    invoice_id: str
    org_id: str
    requester: str
    fields: InvoiceFields
    validation: ValidationReport
    template_key: str


class PrepareApprovalOutput(BaseModel):
    """The approval input, or why none can start (no template)."""

    approval: ApprovalInput | None = None
    problem: str | None = None


class PostInvoiceInput(BaseModel):
    """Record the approved invoice in the ERP."""

    invoice_id: str
    org_id: str
    supplier_id: str
    fields: InvoiceFields


class PostInvoiceOutput(BaseModel):
    """The ERP's document number, or why the ERP refused."""

    document_number: str | None = None
    problem: str | None = None


class InvoiceReviewNotice(BaseModel):
    """Tell the AP team an invoice waits for review (or still does)."""

    invoice_id: str
    org_id: str
    seq: int
    step: InvoiceStep
    reason: str
    reminder: bool = False
    supplier_name: str | None = None
    invoice_number: str | None = None


class RecordInvoiceInput(BaseModel):
    """Write the invoice's state to the read model (ignored when an older version)."""

    state: InvoiceState
