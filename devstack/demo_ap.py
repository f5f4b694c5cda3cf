"""The demo org's accounts payable: the invoice template and reference ERP data that let the
shared sample invoices (e.g. Azure Interior, QualityHosting) run the whole AP flow."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from store.erp_tables import Customer, GoodsReceipt, PurchaseOrder, Supplier
from store.upsert import insert_missing

INVOICE: dict[str, Any] = {
    "key": "invoice",
    "name": "Supplier invoice",
    "levels": [
        {
            # Doubts found by validation (customer name only close, no purchase order) get a
            # second pair of eyes before finance.
            "name": "Team lead check",
            "approvers": {"role": "team-lead"},
            "tat": {"hours": 8},
            "when": {"flags": ["customer_name", "purchase_order"]},
        },
        {
            "name": "Finance",
            "approvers": {"role": "finance"},
            "tat": {"days": 1},
            "escalation": {"action": "notify", "notify": ["acme-manager"]},
        },
        {
            "name": "CFO",
            "approvers": {"users": ["acme-carol"]},
            "tat": {"days": 2},
            "when": {"min_amount": "10000"},
        },
    ],
    "overall_tat": {"days": 10},
}


def seed_demo_ap(session: Session, org_id: str, now: datetime) -> int:
    """Suppliers, the org's customer names and a purchase order with its receipt; how many
    rows were new."""
    stamps = {"created_at": now, "updated_at": now}
    added = insert_missing(
        session,
        Supplier,
        [
            {
                "id": "sup-azure",
                "org_id": org_id,
                "name": "Azure Interior",
                "vat_id": None,
                "domains": ["azure-interior.com"],
                "iban": None,
                "email": "billing@azure-interior.com",
                "active": True,
                **stamps,
            },
            {
                "id": "sup-qualityhosting",
                "org_id": org_id,
                "name": "QualityHosting AG",
                "vat_id": "DE232446240",
                "domains": ["qualityhosting.de"],
                "iban": "DE30507500940000048567",
                "email": None,
                "active": True,
                **stamps,
            },
        ],
        ["id"],
    )
    added += insert_missing(
        session,
        Customer,
        [
            {
                "id": "cus-acme",
                "org_id": org_id,
                "name": "Acme",
                "aliases": ["Acme GmbH", "Mitchell Admin"],
                "vat_id": None,
                **stamps,
            }
        ],
        ["id"],
    )
    lines = [
        {"line": 1, "description": "Beeswax XL", "quantity": "1", "unit_price": "42.00"},
        {"line": 2, "description": "Office Chair", "quantity": "1", "unit_price": "70.00"},
        {"line": 3, "description": "Olive Oil", "quantity": "1", "unit_price": "0.90"},
        {"line": 4, "description": "Luxury Truffles", "quantity": "15", "unit_price": "10.00"},
    ]
    added += insert_missing(
        session,
        PurchaseOrder,
        [
            {
                "id": "po-azure-444",
                "org_id": org_id,
                "number": "444",
                "supplier_id": "sup-azure",
                "currency": "USD",
                "department": "Facilities",
                "total": "262.90",
                "lines": lines,
                "status": "OPEN",
                **stamps,
            }
        ],
        ["id"],
    )
    added += insert_missing(
        session,
        GoodsReceipt,
        [
            {
                "id": "grn-azure-444",
                "org_id": org_id,
                "number": "GRN-444",
                "purchase_order_id": "po-azure-444",
                "received_on": date(2023, 3, 18),
                "lines": [{"line": ln["line"], "quantity": ln["quantity"]} for ln in lines],
                "created_at": now,
            }
        ],
        ["id"],
    )
    return added
