"""A UBL 2.1 e-invoice for tests: exact fields, so workflow tests do not hinge on PDF reading."""

from __future__ import annotations

from decimal import Decimal
from xml.sax.saxutils import escape

UBL = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def ubl_invoice(
    *,
    number: str,
    supplier: str,
    customer: str,
    lines: list[tuple[str, Decimal, Decimal]],
    po_number: str | None = None,
    currency: str = "EUR",
    tax_rate: Decimal = Decimal("0.19"),
    vat_id: str = "DE123456789",
    issue_date: str = "2026-11-02",
) -> bytes:
    """The invoice's XML; lines are (description, quantity, unit price)."""
    subtotal = sum((q * p for _, q, p in lines), Decimal(0))
    tax = (subtotal * tax_rate).quantize(Decimal("0.01"))
    total = subtotal + tax
    items = "".join(
        f"<cac:InvoiceLine><cbc:ID>{i}</cbc:ID>"
        f'<cbc:InvoicedQuantity unitCode="C62">{q}</cbc:InvoicedQuantity>'
        f'<cbc:LineExtensionAmount currencyID="{currency}">{q * p:.2f}</cbc:LineExtensionAmount>'
        f"<cac:Item><cbc:Name>{escape(d)}</cbc:Name></cac:Item>"
        f'<cac:Price><cbc:PriceAmount currencyID="{currency}">{p:.2f}</cbc:PriceAmount></cac:Price>'
        f"</cac:InvoiceLine>"
        for i, (d, q, p) in enumerate(lines, start=1)
    )
    order = (
        f"<cac:OrderReference><cbc:ID>{escape(po_number)}</cbc:ID></cac:OrderReference>"
        if po_number
        else ""
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<Invoice xmlns="{UBL}" xmlns:cac="{CAC}" xmlns:cbc="{CBC}">'
        f"<cbc:ID>{escape(number)}</cbc:ID><cbc:IssueDate>{issue_date}</cbc:IssueDate>"
        f"<cbc:DueDate>2026-12-02</cbc:DueDate>"
        f"<cbc:DocumentCurrencyCode>{currency}</cbc:DocumentCurrencyCode>{order}"
        f"<cac:AccountingSupplierParty><cac:Party><cac:PartyName><cbc:Name>{escape(supplier)}"
        f"</cbc:Name></cac:PartyName><cac:PartyTaxScheme><cbc:CompanyID>{vat_id}</cbc:CompanyID>"
        f"</cac:PartyTaxScheme></cac:Party></cac:AccountingSupplierParty>"
        f"<cac:AccountingCustomerParty><cac:Party><cac:PartyName><cbc:Name>{escape(customer)}"
        f"</cbc:Name></cac:PartyName></cac:Party></cac:AccountingCustomerParty>"
        f'<cac:TaxTotal><cbc:TaxAmount currencyID="{currency}">{tax:.2f}</cbc:TaxAmount>'
        f"</cac:TaxTotal>"
        f"<cac:LegalMonetaryTotal>"
        f'<cbc:TaxExclusiveAmount currencyID="{currency}">{subtotal:.2f}</cbc:TaxExclusiveAmount>'
        f'<cbc:TaxInclusiveAmount currencyID="{currency}">{total:.2f}</cbc:TaxInclusiveAmount>'
        f'<cbc:PayableAmount currencyID="{currency}">{total:.2f}</cbc:PayableAmount>'
        f"</cac:LegalMonetaryTotal>{items}</Invoice>"
    ).encode()
