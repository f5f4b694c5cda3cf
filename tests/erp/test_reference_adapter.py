"""The reference ERP adapter on every configured backend: loading it by name, supplier matching
(VAT id, IBAN, exact and fuzzy names), purchase orders and receipts, and idempotent postings."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from config.settings import Settings
from erp.adapter import ErpAdapter, ErpRejected, UnknownErpAdapter, load_erp_adapter
from erp.identifiers import check_domain, check_iban, check_vat_id, core_name
from erp.reference import ReferenceErpAdapter
from schemas.erp import InvoicePosting
from store.db import transaction
from store.erp_tables import Customer, ErpPosting, GoodsReceipt, PurchaseOrder, Supplier

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
IBAN = "DE89370400440532013000"


@pytest.fixture
def org() -> str:
    """An org of this test's own on the shared database."""
    return f"org-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def erp(any_engine: Engine) -> ReferenceErpAdapter:
    """The adapter as the worker loads it."""
    adapter = load_erp_adapter(Settings(erp_adapter="reference"), any_engine)
    assert isinstance(adapter, ReferenceErpAdapter)
    return adapter


def supplier(engine: Engine, org: str, name: str, **fields: Any) -> str:
    """Store a supplier; its id."""
    row = Supplier(
        id=f"sup-{uuid.uuid4().hex[:12]}",
        org_id=org,
        name=name,
        domains=fields.pop("domains", []),
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )
    row_id = row.id  # the row expires when its session commits
    with transaction(engine) as session:
        session.add(row)
    return row_id


def purchase_order(engine: Engine, org: str, supplier_id: str, number: str, **fields: Any) -> str:
    """Store a one-line purchase order of 10 x 2.50; its id."""
    line = {"line": 1, "description": "Paper", "quantity": "10", "unit_price": "2.50"}
    row = PurchaseOrder(
        id=f"po-{uuid.uuid4().hex[:12]}",
        org_id=org,
        number=number,
        supplier_id=supplier_id,
        currency="EUR",
        total=Decimal("25"),
        lines=[line],
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )
    row_id = row.id  # the row expires when its session commits
    with transaction(engine) as session:
        session.add(row)
    return row_id


def posting(org: str, supplier_id: str, **fields: Any) -> InvoicePosting:
    """An approved invoice of 25 EUR."""
    values: dict[str, Any] = {
        "org_id": org,
        "invoice_id": f"inv-{uuid.uuid4().hex}",
        "supplier_id": supplier_id,
        "invoice_number": "R-2026-001",
        "currency": "EUR",
        "total": Decimal("25.00"),
    }
    return InvoicePosting.model_validate(values | fields)


def postings_of(engine: Engine, invoice_id: str) -> list[ErpPosting]:
    """The stored postings of an invoice."""
    with Session(engine) as session:
        query = select(ErpPosting).where(col(ErpPosting.invoice_id) == invoice_id)
        return list(session.exec(query).all())


def test_the_reference_adapter_is_loaded_from_its_entry_point(any_engine: Engine) -> None:
    adapter = load_erp_adapter(Settings(erp_adapter="reference"), any_engine)
    assert isinstance(adapter, ReferenceErpAdapter) and isinstance(adapter, ErpAdapter)


def test_an_adapter_that_is_not_installed_is_named_in_the_error(any_engine: Engine) -> None:
    with pytest.raises(UnknownErpAdapter, match="'sap-s4'.*reference"):
        load_erp_adapter(Settings(erp_adapter="sap-s4"), any_engine)


def test_a_supplier_is_found_by_vat_id_then_iban_then_name(
    erp: ReferenceErpAdapter, any_engine: Engine, org: str
) -> None:
    by_vat = supplier(any_engine, org, "Nordwind Logistik GmbH", vat_id="DE123456789")
    by_iban = supplier(any_engine, org, "Kowalski Sp. z o.o.", iban=IBAN)
    plain = supplier(any_engine, org, "Acme Industrial Supplies GmbH", domains=["acme.example"])

    def found(**query: str | None) -> str | None:
        nothing: dict[str, str | None] = {"name": None, "vat_id": None, "iban": None}
        hit = erp.find_supplier(org, **(nothing | query))
        return hit.id if hit else None

    # The VAT id outranks a name that points elsewhere; its spelling does not matter.
    assert found(vat_id="de 123.456.789", name="Acme Industrial Supplies GmbH") == by_vat
    assert found(vat_id="XX999", iban="de89 3704 0044 0532 0130 00") == by_iban
    assert found(name="ACME INDUSTRIAL SUPPLIES GMBH") == plain
    assert found(name="kowalski") == by_iban  # the legal form stripped
    assert found(name="ACME Industrial Supply Ltd.") == plain  # fuzzy, 91
    assert found(name="Nordwind Logistics") == by_vat
    assert found(name="Initrode Ltd") is None
    assert found() is None
    record = erp.find_supplier(org, name="Acme Industrial Supplies", vat_id=None, iban=None)
    assert record is not None and record.domains == ["acme.example"]


def test_inactive_and_other_orgs_suppliers_are_never_matched(
    erp: ReferenceErpAdapter, any_engine: Engine, org: str
) -> None:
    gone = supplier(any_engine, org, "Umbrella Ltd", vat_id="GB999999973", active=False)
    supplier(any_engine, f"{org}-other", "Wayne Enterprises", vat_id="US12345678")
    assert erp.find_supplier(org, name="Umbrella Ltd", vat_id="GB999999973", iban=None) is None
    assert erp.find_supplier(org, name="Wayne Enterprises", vat_id="US12345678", iban=None) is None
    assert erp.get_supplier(org, gone) is None


def test_supplier_domains_are_those_of_the_orgs_active_suppliers(
    erp: ReferenceErpAdapter, any_engine: Engine, org: str
) -> None:
    supplier(any_engine, org, "Acme", domains=["acme.example", "mail.acme.example"])
    supplier(any_engine, org, "Acme Billing", domains=["acme.example", "billing.example"])
    supplier(any_engine, org, "Retired", domains=["retired.example"], active=False)
    supplier(any_engine, f"{org}-other", "Theirs", domains=["theirs.example"])
    assert erp.supplier_domains(org) == ["acme.example", "billing.example", "mail.acme.example"]
    assert erp.supplier_domains(f"{org}-none") == []


def test_two_equally_good_fuzzy_matches_are_no_match(
    erp: ReferenceErpAdapter, any_engine: Engine, org: str
) -> None:
    supplier(any_engine, org, "Blue Sky Trading GmbH")
    supplier(any_engine, org, "Blue Sky Trading AG", vat_id="CHE123456789")
    assert erp.find_supplier(org, name="Blue Sky Trading", vat_id=None, iban=None) is None
    # A VAT id shared by two suppliers is settled by the name.
    one = supplier(any_engine, org, "Twin A", vat_id="FR40303265045")
    supplier(any_engine, org, "Twin B", vat_id="FR40303265045")
    assert erp.find_supplier(org, name="twin a", vat_id="FR40303265045", iban=None) == (
        erp.get_supplier(org, one)
    )


def test_purchase_orders_receipts_and_customers_are_read_back(
    erp: ReferenceErpAdapter, any_engine: Engine, org: str
) -> None:
    vendor = supplier(any_engine, org, "Paper Co")
    order_id = purchase_order(any_engine, org, vendor, "PO-1001")
    with transaction(any_engine) as session:
        for number, day in (("GRN-2", 5), ("GRN-1", 3)):
            session.add(
                GoodsReceipt(
                    id=f"grn-{uuid.uuid4().hex[:12]}",
                    org_id=org,
                    number=f"{org}-{number}",
                    purchase_order_id=order_id,
                    received_on=date(2026, 3, day),
                    lines=[{"line": 1, "quantity": "5"}],
                    created_at=NOW,
                )
            )
        session.add(
            Customer(
                id=f"cus-{uuid.uuid4().hex[:12]}",
                org_id=org,
                name="Acme Corp",
                aliases=["ACME", "Acme Corporation"],
                created_at=NOW,
                updated_at=NOW,
            )
        )

    order = erp.find_purchase_order(org, "po-1001")
    assert order is not None and order.id == order_id and order.total == Decimal("25")
    assert order.lines[0].quantity == Decimal("10") and order.lines[0].unit_price == Decimal("2.5")
    assert erp.find_purchase_order(org, "PO-9999") is None
    assert erp.find_purchase_order(org, "PO-1001\x00") is None
    assert erp.find_purchase_order(f"{org}-other", "PO-1001") is None
    receipts = erp.find_goods_receipts(org, order_id)
    assert [r.number for r in receipts] == [f"{org}-GRN-1", f"{org}-GRN-2"]
    assert receipts[0].lines[0].quantity == Decimal("5")
    assert erp.find_goods_receipts(f"{org}-other", order_id) == []
    customers = erp.list_customers(org)
    assert [(c.name, c.aliases) for c in customers] == [("Acme Corp", ["ACME", "Acme Corporation"])]


def test_posting_twice_records_one_row_with_one_number(
    erp: ReferenceErpAdapter, any_engine: Engine, org: str
) -> None:
    vendor = supplier(any_engine, org, "Paper Co")
    purchase_order(any_engine, org, vendor, f"{org}-PO")
    invoice = posting(org, vendor, purchase_order_number=f"{org}-PO")
    first = erp.post_invoice(invoice)
    again = erp.post_invoice(invoice)
    assert first == again and first.invoice_id == invoice.invoice_id
    assert first.document_number.startswith("AP-") and len(first.document_number) >= 9
    rows = postings_of(any_engine, invoice.invoice_id)
    assert len(rows) == 1 and rows[0].total == Decimal("25") and rows[0].org_id == org

    other = erp.post_invoice(posting(org, vendor))
    assert other.document_number != first.document_number


def test_concurrent_retries_post_once_and_different_invoices_get_different_numbers(
    erp: ReferenceErpAdapter, any_engine: Engine, org: str
) -> None:
    vendor = supplier(any_engine, org, "Paper Co")
    invoice = posting(org, vendor)
    others = [posting(org, vendor) for _ in range(6)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        retries = list(pool.map(erp.post_invoice, [invoice] * 6))
        distinct = list(pool.map(erp.post_invoice, others))
    assert len({r.document_number for r in retries}) == 1
    assert len(postings_of(any_engine, invoice.invoice_id)) == 1
    numbers = {r.document_number for r in distinct} | {retries[0].document_number}
    assert len(numbers) == 7


def test_a_posting_the_erp_cannot_accept_is_rejected(
    erp: ReferenceErpAdapter, any_engine: Engine, org: str
) -> None:
    vendor = supplier(any_engine, org, "Paper Co")
    retired = supplier(any_engine, org, "Old Paper Co", active=False)
    other_vendor = supplier(any_engine, org, "Ink Ltd")
    purchase_order(any_engine, org, vendor, f"{org}-closed", status="CLOSED")
    purchase_order(any_engine, org, vendor, f"{org}-open")
    foreign = supplier(any_engine, f"{org}-other", "Paper Co")
    cases = {
        "does not exist": posting(org, "sup-missing"),
        "inactive": posting(org, retired),
        "another org": posting(org, foreign),
        "CLOSED, not OPEN": posting(org, vendor, purchase_order_number=f"{org}-closed"),
        "purchase order .* does not exist": posting(org, vendor, purchase_order_number="nope"),
        "another supplier": posting(org, other_vendor, purchase_order_number=f"{org}-open"),
        "currency": posting(org, vendor, currency="eur"),
        "too large": posting(org, vendor, total=Decimal("1e17")),
        "NUL": posting(org, vendor, invoice_number="R-1\x00"),
    }
    for reason, refused in cases.items():
        match = "does not exist or is inactive" if reason == "another org" else reason
        with pytest.raises(ErpRejected, match=match):
            erp.post_invoice(refused)
        assert postings_of(any_engine, refused.invoice_id) == []


def test_identifiers_are_normalised_and_checked() -> None:
    assert check_vat_id(" de 123.456-789 ") == "DE123456789"
    assert check_iban("gb82 west 1234 5698 7654 32") == "GB82WEST12345698765432"
    assert check_domain("Mail.Example.COM.") == "mail.example.com"
    assert check_domain("bücher.example") == "xn--bcher-kva.example"
    assert core_name("Globex Holdings GmbH & Co. KG") == "globex holdings"
    assert core_name("S.à r.l. Dupont S.à r.l.") == "sa rl dupont"
    for bad_iban in ("GB82WEST12345698765433", "DE00", "12345678901234567"):
        with pytest.raises(ValueError):
            check_iban(bad_iban)
    for bad_domain in ("https://example.com", "ap@example.com", "localhost", "example.com/x"):
        with pytest.raises(ValueError):
            check_domain(bad_domain)
    with pytest.raises(ValueError):
        check_vat_id("ABCDEFG")
