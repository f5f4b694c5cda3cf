"""Accounts payable over HTTP on the real stack: a mailed invoice becomes an approved, posted
invoice; uploads park, are overridden and continue; bad uploads; the CSV report."""

from __future__ import annotations

import csv
import io
import uuid
from decimal import Decimal
from typing import Any

import httpx

from api.main import API_PREFIX
from tests.api.conftest import as_user
from tests.api.http_polling import get_until
from tests.api.imap_server import Dovecot
from tests.api.imap_server import dovecot as dovecot  # noqa: F401 (fixture)
from tests.intake.mails import invoice_mail, sample_pdf
from tests.invoicing.einvoices import ubl_invoice

V1 = API_PREFIX


async def _approve_level(http: httpx.AsyncClient, request_id: str, email: str) -> dict[str, Any]:
    headers = await as_user(http, email)
    answer = await http.post(
        f"{V1}/requests/{request_id}/approve", json={"comment": "fine"}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_a_mailed_invoice_becomes_an_approved_posted_invoice(
    http: httpx.AsyncClient, dovecot: Dovecot
) -> None:
    admin = await as_user(http, "admin@acme.test")
    folder = f"ap-{uuid.uuid4().hex[:8]}"
    imap = dovecot.connect()
    try:
        imap.create_folder(folder)
        pdf = sample_pdf("AzureInterior.pdf")  # Factur-X: its XML is read first
        imap.append(
            folder,
            invoice_mail(
                sender="billing@azure-interior.com",
                subject="Invoice INV/2023/03/0008",
                attachments=[("INV_2023_03_0008.pdf", pdf, "application/pdf")],
            ),
        )
    finally:
        imap.logout()
    created = await http.post(
        f"{V1}/mailboxes",
        json={
            "name": "Accounts payable",
            "host": dovecot.host,
            "port": dovecot.port,
            "tls": False,
            "username": dovecot.username,
            "secret": dovecot.password,
            "folder": folder,
            "poll_seconds": 3600,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    mailbox = created.json()
    assert mailbox["has_secret"] is True and "secret" not in mailbox
    polled = await http.post(f"{V1}/mailboxes/{mailbox['id']}/poll", headers=admin)
    assert polled.status_code == 202, polled.text

    log = await get_until(
        http,
        f"{V1}/intake-log?mailbox_id={mailbox['id']}",
        admin,
        lambda page: page["total"] == 1,
    )
    [entry] = log["items"]
    assert entry["outcome"] == "accepted" and entry["sender"] == "billing@azure-interior.com"
    invoice_url = f"{V1}/invoices/{entry['invoice_id']}"
    invoice = await get_until(http, invoice_url, admin, lambda i: i["step"] == "approve")
    fields = invoice["fields"]
    assert fields["invoice_number"] == {
        "value": "INV/2023/03/0008",
        "source": "xml",
        "confidence": 1.0,
    }
    assert Decimal(fields["total"]["value"]) == Decimal("279.84")
    assert invoice["supplier_name"] == "Azure Interior" and invoice["currency"] == "USD"
    checks = {c["name"]: c["outcome"] for c in invoice["checks"]}
    assert checks["supplier"] == checks["sender_domain"] == checks["customer_name"] == "passed"
    assert checks["purchase_order"] == "warning"  # the invoice names no PO: a closer look
    roles = {d["role"] for d in invoice["documents"]}
    assert {"raw_mail", "invoice"} <= roles
    pdf_link = next(d["url"] for d in invoice["documents"] if d["role"] == "invoice")
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(pdf_link)).content == pdf

    # The warning routed the approval through the team lead, then finance.
    request_id = invoice["approval_request_id"]
    await get_until(
        http,
        f"{V1}/requests/{request_id}",
        admin,
        lambda r: r["request"]["status"] == "IN_PROGRESS",
    )
    await _approve_level(http, request_id, "alice@acme.test")
    await _approve_level(http, request_id, "bob@acme.test")
    posted = await get_until(http, invoice_url, admin, lambda i: i["status"] == "POSTED")
    assert posted["step"] == "done" and posted["erp_document"].startswith("AP-")
    assert [e["kind"] for e in posted["events"]][-1] == "finished"

    manager = await as_user(http, "manager@acme.test")
    report = await http.get(
        f"{V1}/reports/invoices.csv", params={"status": "POSTED"}, headers=manager
    )
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.text)))
    mine = next(r for r in rows if r["id"] == entry["invoice_id"])
    assert mine["erp_document"] == posted["erp_document"] and mine["total"].startswith("279.84")


def _ubl(number: str, supplier: str) -> bytes:
    return ubl_invoice(
        number=number,
        supplier=supplier,
        customer="Acme GmbH",
        lines=[("Paper", Decimal(10), Decimal("4.20"))],
        vat_id=f"DE{uuid.uuid4().int % 10**9:09d}",
    )


async def test_an_upload_parks_until_its_supplier_exists_then_continues(
    http: httpx.AsyncClient,
) -> None:
    rita = await as_user(http, "rita@acme.test")
    manager = await as_user(http, "manager@acme.test")
    admin = await as_user(http, "admin@acme.test")
    supplier = f"Paper Mill {uuid.uuid4().hex[:6]}"
    document = _ubl(f"PM-{uuid.uuid4().hex[:6]}", supplier)
    uploaded = await http.post(
        f"{V1}/invoices", files={"file": ("pm.xml", document, "application/xml")}, headers=rita
    )
    assert uploaded.status_code == 202, uploaded.text
    url = f"{V1}/invoices/{uploaded.json()['id']}"
    parked = await get_until(http, url, rita, lambda i: i["status"] == "NEEDS_REVIEW")
    assert parked["step"] == "validate" and supplier in parked["reason"]

    listed = await http.get(
        f"{V1}/invoices", params={"status": "NEEDS_REVIEW", "reason": supplier}, headers=rita
    )
    assert [i["id"] for i in listed.json()["items"]] == [parked["id"]]

    # The same file again is the same invoice.
    again = await http.post(
        f"{V1}/invoices", files={"file": ("pm.xml", document, "application/xml")}, headers=rita
    )
    assert again.status_code == 409 and parked["id"] in again.json()["detail"]

    body = {"reason": "supplier added to the ERP", "continue_at": "validate"}
    refused = await http.post(f"{url}/override", json=body, headers=rita)
    assert refused.status_code == 403
    vague = await http.post(f"{url}/override", json={"continue_at": "validate"}, headers=manager)
    assert vague.status_code == 422

    made = await http.post(f"{V1}/suppliers", json={"name": supplier, "domains": []}, headers=admin)
    assert made.status_code == 201, made.text
    continued = await http.post(f"{url}/override", json=body, headers=manager)
    assert continued.status_code == 200, continued.text
    assert continued.json()["status"] == "IN_PROGRESS"
    onward = await get_until(http, url, rita, lambda i: i["step"] == "approve")
    assert onward["supplier_id"] == made.json()["id"]
    twice = await http.post(f"{url}/override", json=body, headers=manager)
    assert twice.status_code == 409 and "NEEDS_REVIEW" in twice.json()["detail"]
    override = next(e for e in onward["events"] if e["kind"] == "override")
    assert override["actor"] == "acme-manager" and "supplier added" in override["detail"]


async def test_bad_uploads_are_refused_with_a_reason(http: httpx.AsyncClient) -> None:
    rita = await as_user(http, "rita@acme.test")

    async def upload(data: bytes, name: str = "x.pdf") -> httpx.Response:
        files = {"file": (name, data, "application/pdf")}
        return await http.post(f"{V1}/invoices", files=files, headers=rita)

    assert (await upload(b"")).status_code == 422
    assert (await upload(b"\x89PNG\r\n\x1a\n" + b"0" * 64, "x.png")).status_code == 415
    assert (await upload(b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024 + 1))).status_code == 413
    # A corrupt PDF is taken in, and waits for review with the reason.
    corrupt = await upload(b"%PDF-1.7\n" + uuid.uuid4().bytes + b"\x8f broken " * 50)
    assert corrupt.status_code == 202
    parked = await get_until(
        http,
        f"{V1}/invoices/{corrupt.json()['id']}",
        rita,
        lambda i: i["status"] == "NEEDS_REVIEW",
    )
    assert parked["step"] == "extract" and parked["reason"].startswith("x.pdf:")


async def test_mailboxes_are_for_admins_and_keep_their_secret(http: httpx.AsyncClient) -> None:
    admin = await as_user(http, "admin@acme.test")
    rita = await as_user(http, "rita@acme.test")
    body = {"name": "Scans", "host": "imap.acme.test", "username": "scan", "secret": "pw1"}
    assert (await http.post(f"{V1}/mailboxes", json=body, headers=rita)).status_code == 403
    bad_bodies: list[dict[str, Any]] = [
        {"host": "bad host!"},
        {"port": 0},
        {"rules": {"attachment_types": ["exe"]}},
        {"secret": "pw\x00"},  # SQL text cannot hold a NUL: refused, never a 500
        {"name": "Scans\x00"},
    ]
    for bad in bad_bodies:
        answer = await http.post(f"{V1}/mailboxes", json=body | bad, headers=admin)
        assert answer.status_code == 422, (bad, answer.text)
    created = await http.post(f"{V1}/mailboxes", json=body | {"active": False}, headers=admin)
    assert created.status_code == 201, created.text
    url = f"{V1}/mailboxes/{created.json()['id']}"
    patched = await http.patch(
        url,
        json={"secret": "pw2", "rules": {"subject_keywords": ["Invoice"]}, "poll_seconds": 30},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    shown = (await http.get(url, headers=admin)).json()
    assert shown["rules"]["subject_keywords"] == ["invoice"] and shown["poll_seconds"] == 30
    assert "pw1" not in str(shown) and "pw2" not in str(shown) and shown["has_secret"]
    listed = await http.get(f"{V1}/mailboxes", headers=admin)
    assert created.json()["id"] in {m["id"] for m in listed.json()["items"]}
    assert (await http.delete(url, headers=admin)).status_code == 204
    assert (await http.get(url, headers=admin)).status_code == 404
    report = await http.get(f"{V1}/reports/invoices.csv", headers=rita)
    assert report.status_code == 403
    nul = await http.get(f"{V1}/intake-log", params={"invoice_id": "x\x00"}, headers=admin)
    assert nul.status_code == 422
    assert (await http.get(f"{V1}/mailboxes/x%00y", headers=admin)).status_code == 404
