"""The invoice steps' I/O: read the documents, check against the ERP, post to the ERP.

Each is safe to retry: extraction only reads, validation's one write (the invoice-number
claim) is keyed by the invoice, and the ERP posting is idempotent on the invoice id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select
from temporalio import activity

from config.settings import Settings
from erp.adapter import ErpAdapter, ErpRejected
from extraction import ExtractionLimits, UnreadableDocument, extract_invoice_isolated
from invoicing import checks
from schemas.erp import InvoicePosting, SupplierRecord
from schemas.invoice import (
    CheckResult,
    DocumentRef,
    ExtractFieldsInput,
    ExtractFieldsOutput,
    PostInvoiceInput,
    PostInvoiceOutput,
    ValidateInvoiceInput,
    ValidationReport,
)
from schemas.invoice_fields import InvoiceFields
from store.db import transaction
from store.invoice_tables import InvoiceNumberClaim
from store.objects import ObjectMissing, ObjectStore
from store.tables import Org
from store.upsert import insert_missing


class InvoiceStepActivities:
    """Extraction, validation and posting, with the object store and ERP injected."""

    def __init__(
        self, engine: Engine, objects: ObjectStore, erp: ErpAdapter, settings: Settings
    ) -> None:
        """Keep the clients the steps talk through."""
        self.engine = engine
        self.objects = objects
        self.erp = erp
        self.limits = ExtractionLimits(
            max_bytes=settings.invoice_max_bytes,
            max_pages=settings.invoice_max_pages,
            ocr_max_pages=settings.invoice_ocr_max_pages,
            timeout_seconds=settings.invoice_extract_seconds,
            memory_bytes=settings.invoice_extract_memory_mb * 1024 * 1024,
        )

    @activity.defn(name="extract_invoice_fields")
    def extract_invoice_fields(self, inp: ExtractFieldsInput) -> ExtractFieldsOutput:
        """Read the invoice's fields: an e-invoice XML first, else its PDF (text, then OCR)."""
        ordered = _reading_order(inp.documents)
        if not ordered:
            return ExtractFieldsOutput(problem="no invoice document (PDF or e-invoice XML)")
        problems: list[str] = []
        for document in ordered:
            activity.heartbeat(document.filename)
            try:
                data = self.objects.get(document.key)
            except ObjectMissing:
                problems.append(f"{document.filename}: the stored file is missing")
                continue
            try:
                report = extract_invoice_isolated(
                    data, filename=document.filename, limits=self.limits
                )
            except UnreadableDocument as bad:
                problems.append(f"{document.filename}: {bad.reason}")
                continue
            # Text read from a document may hold NULs, which SQL refuses further on.
            clean = report.fields.model_dump_json().replace("\\u0000", "")
            return ExtractFieldsOutput(
                fields=InvoiceFields.model_validate_json(clean),
                method=report.method,
                pages=report.pages,
                ocr_pages=report.ocr_pages,
            )
        return ExtractFieldsOutput(problem="; ".join(problems))

    @activity.defn(name="validate_invoice")
    def validate_invoice(self, inp: ValidateInvoiceInput) -> ValidationReport:
        """Run every check: supplier and sender, customer, duplicate, totals, 3-way match."""
        fields = inp.fields
        results: list[CheckResult] = [checks.required_fields(fields)]
        supplier = self.erp.find_supplier(
            inp.org_id,
            name=fields.supplier_name.value if fields.supplier_name else None,
            vat_id=fields.supplier_vat_id.value if fields.supplier_vat_id else None,
            iban=fields.iban.value if fields.iban else None,
        )
        results.append(checks.supplier_known(supplier, fields))
        if supplier is not None:
            results.append(checks.sender_domain(supplier, inp.sender))
        with Session(self.engine) as session:
            org = session.get(Org, inp.org_id)
        org_name = org.name if org else inp.org_id
        results.append(checks.customer_name(fields, org_name, self.erp.list_customers(inp.org_id)))
        if supplier is not None and fields.invoice_number is not None:
            number = fields.invoice_number.value
            holder = self._claim_number(inp.org_id, supplier.id, number, inp.invoice_id)
            results.append(checks.not_duplicate(holder, inp.invoice_id, number))
        results.append(checks.totals_add_up(fields, inp.policy.total_tolerance))
        department = None
        if supplier is not None:
            results.append(self._match_order(inp, supplier))
            if fields.po_number is not None:
                order = self.erp.find_purchase_order(inp.org_id, fields.po_number.value)
                department = order.department if order else None
        waived = set(inp.waived_checks)
        return ValidationReport(
            checks=[
                c.model_copy(update={"outcome": "waived"})
                if c.name in waived and c.outcome in ("error", "warning")
                else c
                for c in results
            ],
            supplier_id=supplier.id if supplier else None,
            supplier_name=supplier.name if supplier else None,
            department=department,
        )

    def _match_order(self, inp: ValidateInvoiceInput, supplier: SupplierRecord) -> CheckResult:
        po = inp.fields.po_number
        order = self.erp.find_purchase_order(inp.org_id, po.value) if po else None
        receipts = self.erp.find_goods_receipts(inp.org_id, order.id) if order else []
        return checks.three_way_match(inp.fields, supplier, order, receipts, inp.policy)

    def _claim_number(self, org_id: str, supplier_id: str, number: str, invoice_id: str) -> str:
        """Claim the supplier's invoice number for this invoice; the holder's id comes back."""
        with transaction(self.engine) as session:
            # A corrected number frees the one this invoice claimed before.
            session.execute(
                delete(InvoiceNumberClaim).where(
                    col(InvoiceNumberClaim.invoice_id) == invoice_id,
                    col(InvoiceNumberClaim.invoice_number) != number,
                )
            )
            row = {
                "org_id": org_id,
                "supplier_id": supplier_id,
                "invoice_number": number,
                "invoice_id": invoice_id,
                "created_at": datetime.now(UTC),
            }
            insert_missing(session, InvoiceNumberClaim, [row], _CLAIM_KEYS)
            holder = session.exec(
                select(InvoiceNumberClaim.invoice_id).where(
                    col(InvoiceNumberClaim.org_id) == org_id,
                    col(InvoiceNumberClaim.supplier_id) == supplier_id,
                    col(InvoiceNumberClaim.invoice_number) == number,
                )
            ).one()
        return holder

    @activity.defn(name="post_invoice_to_erp")
    def post_invoice_to_erp(self, inp: PostInvoiceInput) -> PostInvoiceOutput:
        """Record the approved invoice in the ERP (once, however often retried)."""
        fields = inp.fields
        if fields.invoice_number is None or fields.total is None or fields.currency is None:
            return PostInvoiceOutput(problem="invoice number, total and currency are needed")
        posting = InvoicePosting(
            org_id=inp.org_id,
            invoice_id=inp.invoice_id,
            supplier_id=inp.supplier_id,
            invoice_number=fields.invoice_number.value,
            invoice_date=fields.invoice_date.value if fields.invoice_date else None,
            due_date=fields.due_date.value if fields.due_date else None,
            purchase_order_number=fields.po_number.value if fields.po_number else None,
            currency=fields.currency.value,
            total=fields.total.value,
            subtotal=fields.subtotal.value if fields.subtotal else None,
            tax=fields.tax.value if fields.tax else None,
        )
        try:
            receipt = self.erp.post_invoice(posting)
        except ErpRejected as refused:
            return PostInvoiceOutput(problem=str(refused))
        return PostInvoiceOutput(document_number=receipt.document_number)


_CLAIM_KEYS = ["org_id", "supplier_id", "invoice_number"]


def _reading_order(documents: list[DocumentRef]) -> list[DocumentRef]:
    """E-invoice XML first (exact data), then the invoice PDFs."""
    xml = [d for d in documents if d.role == "xml"]
    pdfs = [d for d in documents if d.role == "invoice"]
    return xml + pdfs
