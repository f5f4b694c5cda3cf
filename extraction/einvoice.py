"""Structured e-invoices: UN/CEFACT CII (Factur-X, ZUGFeRD, XRechnung) and OASIS UBL.

Paths are written with local names only, so every CII and UBL version and prefix matches.
The parser resolves no entities and fetches nothing: the XML comes from an untrusted PDF.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from lxml import etree  # type: ignore[import-untyped]

from extraction.documents import UnreadableDocument
from extraction.identifiers import iban_checksum_ok
from schemas.invoice_fields import Extracted, FieldSource, InvoiceFields, InvoiceLine

T = TypeVar("T")
_Element = Any  # lxml ships no type hints


def _parser() -> Any:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _xpath(path: str) -> str:
    """Path "A/B" as a namespace-blind XPath: steps by local name; a leading "//" searches deep."""
    deep = path.startswith("//")
    steps = [s if s == "*" else f"*[local-name()='{s}']" for s in path.strip("/").split("/")]
    return (".//" if deep else "./") + "/".join(steps)


def _text(node: _Element, *paths: str) -> str | None:
    """The text of the first path that leads to a non-empty element."""
    for path in paths:
        for found in node.xpath(_xpath(path)):
            if found.text and found.text.strip():
                return str(found.text).strip()
    return None


def _decimal(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def _cii_date(text: str | None) -> date | None:
    """CII writes dates in format 102 (20230320); UBL in ISO (2023-03-20)."""
    if not text:
        return None
    for pattern in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text[:10], pattern).date()
        except ValueError:
            continue
    return None


def _field(value: T | None) -> Extracted[T] | None:
    if value is None:
        return None
    return Extracted[T](value=value, source=FieldSource.XML, confidence=1.0)


def _iban(text: str | None) -> str | None:
    compact = text.replace(" ", "").upper() if text else None
    return compact if compact and iban_checksum_ok(compact) else None


def _cii(root: _Element) -> InvoiceFields:
    settlement = "//ApplicableHeaderTradeSettlement"
    totals = f"{settlement}/SpecifiedTradeSettlementHeaderMonetarySummation"
    seller, buyer = "//SellerTradeParty", "//BuyerTradeParty"
    lines = [
        InvoiceLine(
            description=(_text(item, "//SpecifiedTradeProduct/Name") or "")[:1000],
            quantity=_decimal(_text(item, "//BilledQuantity")),
            unit_price=_decimal(_text(item, "//NetPriceProductTradePrice/ChargeAmount")),
            amount=_decimal(_text(item, "//LineTotalAmount")),
        )
        for item in root.xpath(_xpath("//IncludedSupplyChainTradeLineItem"))
    ]
    return InvoiceFields(
        invoice_number=_field(_text(root, "ExchangedDocument/ID", "HeaderExchangedDocument/ID")),
        invoice_date=_field(_cii_date(_text(root, "//ExchangedDocument/IssueDateTime/*"))),
        due_date=_field(_cii_date(_text(root, "//SpecifiedTradePaymentTerms/DueDateDateTime/*"))),
        currency=_field(_text(root, f"{settlement}/InvoiceCurrencyCode")),
        total=_field(_decimal(_text(root, f"{totals}/GrandTotalAmount"))),
        subtotal=_field(_decimal(_text(root, f"{totals}/TaxBasisTotalAmount"))),
        tax=_field(_decimal(_text(root, f"{totals}/TaxTotalAmount"))),
        supplier_name=_field(_text(root, f"{seller}/Name")),
        supplier_vat_id=_field(_text(root, f"{seller}/SpecifiedTaxRegistration/ID")),
        customer_name=_field(_text(root, f"{buyer}/Name")),
        po_number=_field(_text(root, "//BuyerOrderReferencedDocument/IssuerAssignedID")),
        iban=_field(_iban(_text(root, "//PayeePartyCreditorFinancialAccount/IBANID"))),
        lines=lines,
        lines_source=FieldSource.XML if lines else None,
    )


def _ubl_line(line: _Element) -> InvoiceLine | None:
    quantity = _decimal(_text(line, "InvoicedQuantity", "CreditedQuantity"))
    amount = _decimal(_text(line, "LineExtensionAmount"))
    if not quantity and not amount:
        return None  # a section title ("--- Food Products ---"), not an item
    return InvoiceLine(
        description=(_text(line, "Item/Description", "Item/Name") or "")[:1000],
        quantity=quantity,
        unit_price=_decimal(_text(line, "Price/PriceAmount")),
        amount=amount,
    )


def _ubl(root: _Element) -> InvoiceFields:
    supplier, customer = "AccountingSupplierParty/Party", "AccountingCustomerParty/Party"
    money = "LegalMonetaryTotal"
    supplier_names = (f"{supplier}/PartyName/Name", f"{supplier}/PartyLegalEntity/RegistrationName")
    customer_names = (f"{customer}/PartyName/Name", f"{customer}/PartyLegalEntity/RegistrationName")
    lines = [
        found
        for line in root.xpath(_xpath("InvoiceLine") + " | " + _xpath("CreditNoteLine"))
        if (found := _ubl_line(line)) is not None
    ]
    return InvoiceFields(
        invoice_number=_field(_text(root, "ID")),
        invoice_date=_field(_cii_date(_text(root, "IssueDate"))),
        due_date=_field(_cii_date(_text(root, "DueDate", "PaymentMeans/PaymentDueDate"))),
        currency=_field(_text(root, "DocumentCurrencyCode")),
        total=_field(
            _decimal(_text(root, f"{money}/TaxInclusiveAmount", f"{money}/PayableAmount"))
        ),
        subtotal=_field(_decimal(_text(root, f"{money}/TaxExclusiveAmount"))),
        tax=_field(_decimal(_text(root, "TaxTotal/TaxAmount"))),
        supplier_name=_field(_text(root, *supplier_names)),
        supplier_vat_id=_field(_text(root, f"{supplier}/PartyTaxScheme/CompanyID")),
        customer_name=_field(_text(root, *customer_names)),
        po_number=_field(_text(root, "OrderReference/ID")),
        iban=_field(_iban(_text(root, "PaymentMeans/PayeeFinancialAccount/ID"))),
        lines=lines,
        lines_source=FieldSource.XML if lines else None,
    )


_READERS: dict[str, Callable[[_Element], InvoiceFields]] = {
    "CrossIndustryInvoice": _cii,
    "CrossIndustryDocument": _cii,  # ZUGFeRD 1.0
    "Invoice": _ubl,
    "CreditNote": _ubl,
}


def parse_einvoice(data: bytes) -> InvoiceFields:
    """The fields of a CII or UBL invoice; other XML raises UnreadableDocument."""
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as error:
        raise UnreadableDocument(f"the XML cannot be parsed: {error}", "corrupt") from error
    reader = _READERS.get(etree.QName(root).localname)
    if reader is None:
        raise UnreadableDocument(
            f"XML root <{etree.QName(root).localname}> is neither UBL nor CII", "unsupported_xml"
        )
    return reader(root)
