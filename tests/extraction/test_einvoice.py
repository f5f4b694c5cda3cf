"""Structured e-invoices: Factur-X XML inside a PDF, and UBL or CII XML on their own."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import facturx
import pytest

from extraction.documents import UnreadableDocument
from extraction.pipeline import extract_invoice
from schemas.invoice_fields import ExtractionMethod, FieldSource
from tests.extraction.handmade import text_pdf

CII = b"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice
 xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
 xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
 xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
 <rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter>
  <ram:ID>urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic</ram:ID>
 </ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>
 <rsm:ExchangedDocument><ram:ID>FX-2024-0042</ram:ID><ram:TypeCode>380</ram:TypeCode>
  <ram:IssueDateTime><udt:DateTimeString format="102">20240315</udt:DateTimeString>
  </ram:IssueDateTime></rsm:ExchangedDocument>
 <rsm:SupplyChainTradeTransaction>
  <ram:IncludedSupplyChainTradeLineItem>
   <ram:AssociatedDocumentLineDocument><ram:LineID>1</ram:LineID>
   </ram:AssociatedDocumentLineDocument>
   <ram:SpecifiedTradeProduct><ram:Name>Consulting day</ram:Name></ram:SpecifiedTradeProduct>
   <ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice>
    <ram:ChargeAmount>500.00</ram:ChargeAmount></ram:NetPriceProductTradePrice>
   </ram:SpecifiedLineTradeAgreement>
   <ram:SpecifiedLineTradeDelivery>
    <ram:BilledQuantity unitCode="DAY">2</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>
   <ram:SpecifiedLineTradeSettlement>
    <ram:SpecifiedTradeSettlementLineMonetarySummation>
     <ram:LineTotalAmount>1000.00</ram:LineTotalAmount>
    </ram:SpecifiedTradeSettlementLineMonetarySummation></ram:SpecifiedLineTradeSettlement>
  </ram:IncludedSupplyChainTradeLineItem>
  <ram:ApplicableHeaderTradeAgreement>
   <ram:SellerTradeParty><ram:Name>Acme Conseil SARL</ram:Name>
    <ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">FR60421938861</ram:ID>
    </ram:SpecifiedTaxRegistration></ram:SellerTradeParty>
   <ram:BuyerTradeParty><ram:Name>Signoff Ltd</ram:Name></ram:BuyerTradeParty>
   <ram:BuyerOrderReferencedDocument><ram:IssuerAssignedID>PO-7</ram:IssuerAssignedID>
   </ram:BuyerOrderReferencedDocument>
  </ram:ApplicableHeaderTradeAgreement>
  <ram:ApplicableHeaderTradeDelivery/>
  <ram:ApplicableHeaderTradeSettlement>
   <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
   <ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>58</ram:TypeCode>
    <ram:PayeePartyCreditorFinancialAccount><ram:IBANID>FR7610107002450061705231739</ram:IBANID>
    </ram:PayeePartyCreditorFinancialAccount></ram:SpecifiedTradeSettlementPaymentMeans>
   <ram:SpecifiedTradePaymentTerms><ram:DueDateDateTime>
    <udt:DateTimeString format="102">20240414</udt:DateTimeString></ram:DueDateDateTime>
   </ram:SpecifiedTradePaymentTerms>
   <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    <ram:LineTotalAmount>1000.00</ram:LineTotalAmount>
    <ram:TaxBasisTotalAmount>1000.00</ram:TaxBasisTotalAmount>
    <ram:TaxTotalAmount currencyID="EUR">200.00</ram:TaxTotalAmount>
    <ram:GrandTotalAmount>1200.00</ram:GrandTotalAmount>
    <ram:DuePayableAmount>1200.00</ram:DuePayableAmount>
   </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
  </ram:ApplicableHeaderTradeSettlement>
 </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
"""

UBL = b"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
 <cbc:ID>UBL-9</cbc:ID><cbc:IssueDate>2024-02-01</cbc:IssueDate>
 <cbc:DueDate>2024-03-02</cbc:DueDate><cbc:DocumentCurrencyCode>PLN</cbc:DocumentCurrencyCode>
 <cac:AccountingSupplierParty><cac:Party>
  <cac:PartyName><cbc:Name>Dostawca sp. z o.o.</cbc:Name></cac:PartyName>
  <cac:PartyTaxScheme><cbc:CompanyID>PL7740001454</cbc:CompanyID></cac:PartyTaxScheme>
 </cac:Party></cac:AccountingSupplierParty>
 <cac:TaxTotal><cbc:TaxAmount currencyID="PLN">23.00</cbc:TaxAmount></cac:TaxTotal>
 <cac:LegalMonetaryTotal>
  <cbc:TaxExclusiveAmount currencyID="PLN">100.00</cbc:TaxExclusiveAmount>
  <cbc:TaxInclusiveAmount currencyID="PLN">123.00</cbc:TaxInclusiveAmount>
  <cbc:PayableAmount currencyID="PLN">123.00</cbc:PayableAmount>
 </cac:LegalMonetaryTotal>
 <cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:InvoicedQuantity unitCode="C62">4</cbc:InvoicedQuantity>
  <cbc:LineExtensionAmount currencyID="PLN">100.00</cbc:LineExtensionAmount>
  <cac:Item><cbc:Name>Papier A4</cbc:Name></cac:Item>
  <cac:Price><cbc:PriceAmount currencyID="PLN">25.00</cbc:PriceAmount></cac:Price>
 </cac:InvoiceLine>
</Invoice>
"""


def test_factur_x_pdf_is_read_from_its_xml() -> None:
    # The visible text says otherwise on purpose: the XML must win.
    base = text_pdf([(50, 60, "Invoice number: TEXT-1"), (50, 90, "Total: 9.99 EUR")])
    pdf = facturx.generate_from_binary(base, CII, flavor="factur-x", level="basic", check_xsd=False)
    report = extract_invoice(pdf, filename="fx.pdf")
    fields = report.fields
    assert report.method is ExtractionMethod.XML
    assert fields.invoice_number and fields.invoice_number.value == "FX-2024-0042"
    assert fields.invoice_number.source is FieldSource.XML
    assert fields.invoice_number.confidence == 1.0
    assert fields.total and fields.total.value == Decimal("1200.00")
    assert fields.subtotal and fields.subtotal.value == Decimal("1000.00")
    assert fields.tax and fields.tax.value == Decimal("200.00")
    assert fields.invoice_date and fields.invoice_date.value == date(2024, 3, 15)
    assert fields.due_date and fields.due_date.value == date(2024, 4, 14)
    assert fields.currency and fields.currency.value == "EUR"
    assert fields.supplier_name and fields.supplier_name.value == "Acme Conseil SARL"
    assert fields.supplier_vat_id and fields.supplier_vat_id.value == "FR60421938861"
    assert fields.customer_name and fields.customer_name.value == "Signoff Ltd"
    assert fields.po_number and fields.po_number.value == "PO-7"
    assert fields.iban and fields.iban.value == "FR7610107002450061705231739"
    assert fields.lines_source is FieldSource.XML
    assert [(x.description, x.quantity, x.amount) for x in fields.lines] == [
        ("Consulting day", Decimal("2"), Decimal("1000.00"))
    ]


def test_standalone_ubl_and_cii_documents() -> None:
    ubl = extract_invoice(UBL, filename="invoice.xml")
    assert (ubl.method, ubl.pages) == (ExtractionMethod.XML, 0)
    assert ubl.fields.total and ubl.fields.total.value == Decimal("123.00")
    assert ubl.fields.supplier_vat_id and ubl.fields.supplier_vat_id.value == "PL7740001454"
    assert ubl.fields.lines[0].unit_price == Decimal("25.00")
    cii = extract_invoice(CII, filename="factur-x.xml")
    assert cii.fields.invoice_number and cii.fields.invoice_number.value == "FX-2024-0042"


def test_xml_entities_are_not_expanded_nor_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    hostile = UBL.replace(
        b"<Invoice ",
        f'<!DOCTYPE Invoice [<!ENTITY x SYSTEM "file://{secret}">]>\n<Invoice '.encode(),
    ).replace(b"<cbc:ID>UBL-9</cbc:ID>", b"<cbc:ID>&x;</cbc:ID>")
    report = extract_invoice(hostile, filename="x.xml")
    assert (
        report.fields.invoice_number is None or "secret" not in report.fields.invoice_number.value
    )


def test_other_xml_is_refused() -> None:
    with pytest.raises(UnreadableDocument) as caught:
        extract_invoice(b"<svg xmlns='http://www.w3.org/2000/svg'/>", filename="a.svg")
    assert caught.value.code == "unsupported_xml"
    with pytest.raises(UnreadableDocument) as caught:
        extract_invoice(b"<Invoice><unclosed></Invoice>", filename="a.xml")
    assert caught.value.code == "corrupt"
