"""The accounts-payable part of the tenancy matrix: acme's invoice, mailbox, supplier,
customer and purchase order, and how globex calls each id route."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from api.main import API_PREFIX
from tests.intake.mails import sample_pdf

INVOICE = f"{API_PREFIX}/invoices/{{invoice_id}}"
MAILBOX = f"{API_PREFIX}/mailboxes/{{mailbox_id}}"
SUPPLIER = f"{API_PREFIX}/suppliers/{{supplier_id}}"
CUSTOMER = f"{API_PREFIX}/customers/{{customer_id}}"
ORDER = f"{API_PREFIX}/purchase-orders/{{order_id}}"
RECEIPT = {"number": "GX-1", "received_on": "2026-01-05", "lines": [{"line": 1, "quantity": "1"}]}

# (method, path) -> JSON body a valid call would send (None: no body).
AP_CASES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", INVOICE): None,
    ("POST", f"{INVOICE}/override"): {"reason": "from globex", "continue_at": "validate"},
    ("GET", MAILBOX): None,
    ("PATCH", MAILBOX): {"active": False, "host": "evil.globex.test"},
    ("DELETE", MAILBOX): None,
    ("POST", f"{MAILBOX}/poll"): None,
    ("GET", SUPPLIER): None,
    ("PATCH", SUPPLIER): {"name": "Owned by Globex"},
    ("DELETE", SUPPLIER): None,
    ("GET", CUSTOMER): None,
    ("PATCH", CUSTOMER): {"name": "Owned by Globex"},
    ("DELETE", CUSTOMER): None,
    ("GET", ORDER): None,
    ("PATCH", ORDER): {"department": "Globex"},
    ("DELETE", ORDER): None,
    ("GET", f"{ORDER}/receipts"): None,
    ("POST", f"{ORDER}/receipts"): RECEIPT,
}


def ap_missing_ids() -> dict[str, str]:
    """AP ids of the same shapes that exist nowhere."""
    return {
        "invoice_id": f"inv-{uuid.uuid4().hex}",
        "mailbox_id": f"mbx-{uuid.uuid4().hex[:20]}",
        "supplier_id": f"sup-{uuid.uuid4().hex[:16]}",
        "customer_id": f"cus-{uuid.uuid4().hex[:16]}",
        "order_id": f"po-{uuid.uuid4().hex[:16]}",
    }


async def _created(http: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]) -> str:
    answer = await http.post(f"{API_PREFIX}{path}", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def make_ap_objects(
    http: httpx.AsyncClient, admin: dict[str, str], user: dict[str, str]
) -> dict[str, str]:
    """Acme's AP objects: an uploaded invoice (once its row exists), a mailbox, a supplier, a
    customer and an open purchase order."""
    tag = uuid.uuid4().hex[:8]
    uploaded = await http.post(
        f"{API_PREFIX}/invoices",
        # An unknown supplier's invoice: it parks at validate and claims no invoice number.
        files={"file": (f"inv-{tag}.pdf", sample_pdf("oyo.pdf") + tag.encode(), "application/pdf")},
        headers=user,
    )
    assert uploaded.status_code == 202, uploaded.text
    invoice_id = str(uploaded.json()["id"])
    for _ in range(200):
        if (await http.get(f"{API_PREFIX}/invoices/{invoice_id}", headers=user)).status_code == 200:
            break
        await asyncio.sleep(0.1)
    mailbox = {
        "name": "AP",
        "host": "127.0.0.1",
        "port": 9,
        "tls": False,
        "username": "ap@acme.test",
        "secret": "s3cret",
        "active": False,
    }
    supplier_id = await _created(
        http, "/suppliers", {"name": f"Tenancy Supplier {tag}", "domains": ["acme-sup.test"]}, admin
    )
    order = {
        "number": f"PO-{tag}",
        "supplier_id": supplier_id,
        "currency": "EUR",
        "lines": [{"line": 1, "description": "Widget", "quantity": "5", "unit_price": "2"}],
    }
    return {
        "invoice_id": invoice_id,
        "mailbox_id": await _created(http, "/mailboxes", mailbox, admin),
        "supplier_id": supplier_id,
        "customer_id": await _created(http, "/customers", {"name": f"Acme {tag}"}, admin),
        "order_id": await _created(http, "/purchase-orders", order, admin),
    }


async def ap_view(
    http: httpx.AsyncClient, admin: dict[str, str], ids: dict[str, str]
) -> dict[str, Any]:
    """What acme's admin sees of its AP master data (the invoice moves on by itself)."""
    view: dict[str, Any] = {}
    for name, path in (
        ("mailbox_id", MAILBOX),
        ("supplier_id", SUPPLIER),
        ("customer_id", CUSTOMER),
        ("order_id", ORDER),
        ("receipts", f"{ORDER}/receipts"),
    ):
        answer = await http.get(path.format(**ids), headers=admin)
        assert answer.status_code == 200, answer.text
        view[name] = answer.json()
    return view
