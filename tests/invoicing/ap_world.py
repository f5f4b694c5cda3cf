"""An org with everything accounts payable needs, written straight into SQL for tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine
from sqlmodel import Session

from schemas.calendar import OrgCalendar
from store.db import transaction
from store.erp_tables import Customer, GoodsReceipt, PurchaseOrder, Supplier
from store.tables import Org, Template, User

WIDGETS = [("Widget", Decimal(10), Decimal("2.50")), ("Bolt", Decimal(100), Decimal("0.10"))]


@dataclass(frozen=True)
class ApWorld:
    """The ids a test needs."""

    org_id: str
    clerk: str
    approver: str
    supplier_id: str
    po_id: str
    po_number: str


def seed_ap_world(
    engine: Engine, *, received: list[Decimal] | None = None, template: bool = True
) -> ApWorld:
    """A fresh org: an AP clerk, a finance approver, the invoice template, a supplier on
    acme.test, the customer "Globex Buyer Ltd", and purchase order PO-1 for WIDGETS with a
    goods receipt for `received` (default: everything ordered)."""
    tag = uuid.uuid4().hex[:8]
    org_id, now = f"ap-{tag}", datetime.now(UTC)
    world = ApWorld(org_id, f"clerk-{tag}", f"approver-{tag}", f"sup-{tag}", f"po-{tag}", "PO-1")
    quantities = received if received is not None else [q for _, q, _ in WIDGETS]
    with transaction(engine) as session:
        session.add(
            Org(
                id=org_id,
                name="Globex Buyer Ltd",
                calendar=OrgCalendar(timezone="UTC").model_dump(mode="json"),
                created_at=now,
            )
        )
        for user_id, roles in ((world.clerk, ["USER", "AP"]), (world.approver, ["USER"])):
            session.add(
                User(
                    id=user_id,
                    org_id=org_id,
                    email=f"{user_id}@globex.test",
                    name=user_id.split("-")[0].title(),
                    roles=roles,
                    created_at=now,
                )
            )
        if template:
            session.add(
                Template(
                    org_id=org_id,
                    key="invoice",
                    version=1,
                    name="Supplier invoice",
                    body={
                        "name": "Supplier invoice",
                        "levels": [
                            {
                                "name": "Finance",
                                "approvers": {"users": [world.approver]},
                                "tat": {"days": 2},
                            }
                        ],
                    },
                    created_at=now,
                )
            )
        session.add(
            Supplier(
                id=world.supplier_id,
                org_id=org_id,
                name="Acme Supplies GmbH",
                vat_id="DE123456789",
                domains=["acme.test"],
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            Customer(
                id=f"cus-{tag}",
                org_id=org_id,
                name="Globex Buyer Ltd",
                aliases=["Globex"],
                created_at=now,
                updated_at=now,
            )
        )
        lines = [
            {"line": i, "description": d, "quantity": str(q), "unit_price": str(p)}
            for i, (d, q, p) in enumerate(WIDGETS, start=1)
        ]
        session.add(
            PurchaseOrder(
                id=world.po_id,
                org_id=org_id,
                number=world.po_number,
                supplier_id=world.supplier_id,
                currency="EUR",
                department="Operations",
                total=sum((q * p for _, q, p in WIDGETS), Decimal(0)),
                lines=lines,
                created_at=now,
                updated_at=now,
            )
        )
        add_receipt(session, world, quantities)
    return world


def add_receipt(session: Session, world: ApWorld, quantities: list[Decimal]) -> None:
    """A goods receipt against PO-1 for these quantities (line by line)."""
    session.add(
        GoodsReceipt(
            id=f"grn-{uuid.uuid4().hex[:12]}",
            org_id=world.org_id,
            number=f"GRN-{uuid.uuid4().hex[:6]}",
            purchase_order_id=world.po_id,
            received_on=date(2026, 11, 1),
            lines=[{"line": i, "quantity": str(q)} for i, q in enumerate(quantities, start=1)],
            created_at=datetime.now(UTC),
        )
    )
