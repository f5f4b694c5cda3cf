"""The reference ERP's master data over HTTP: suppliers, customers, purchase orders and goods
receipts; CRUD, input checks, CSV imports (all or nothing), roles and tenancy."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.api.conftest import as_user

API = "/api/v1"
SUPPLIERS, CUSTOMERS, ORDERS = f"{API}/suppliers", f"{API}/customers", f"{API}/purchase-orders"
PROBLEM = "application/problem+json"
ADMIN = "admin@acme.test"
IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def tag() -> str:
    """A suffix that keeps this test's names apart from every other test's."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
async def admin(http: httpx.AsyncClient) -> dict[str, str]:
    """Acme's ADMIN."""
    return await as_user(http, ADMIN)


async def created(
    http: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """POST that must answer 201; its JSON."""
    response = await http.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of an error with this status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


async def upload(
    http: httpx.AsyncClient, path: str, content: str | bytes, headers: dict[str, str], **params: Any
) -> httpx.Response:
    """POST a CSV file to an import route."""
    data = content.encode() if isinstance(content, str) else content
    files = {"file": ("data.csv", data, "text/csv")}
    return await http.post(f"{path}/import", files=files, params=params, headers=headers)


def row_errors(response: httpx.Response) -> set[tuple[int, str | None]]:
    """(row, column) of every row error of a refused import."""
    return {(e["row"], e["column"]) for e in problem(response, 422)["row_errors"]}


async def test_supplier_crud_normalises_identifiers_and_deactivates(
    http: httpx.AsyncClient, admin: dict[str, str], tag: str
) -> None:
    body = {
        "name": f"  Nordwind {tag} GmbH ",
        "vat_id": "de 123.456.789",
        "domains": ["Nordwind.EXAMPLE", "mail.nordwind.example", "nordwind.example."],
        "iban": IBAN.lower(),
        "email": "AP@Nordwind.example",
    }
    supplier = await created(http, SUPPLIERS, body, admin)
    assert supplier | {"id": None, "created_at": None, "updated_at": None} == {
        "id": None,
        "name": f"Nordwind {tag} GmbH",
        "vat_id": "DE123456789",
        "domains": ["mail.nordwind.example", "nordwind.example"],
        "iban": "DE89370400440532013000",
        "email": "ap@nordwind.example",
        "active": True,
        "created_at": None,
        "updated_at": None,
    }
    one = f"{SUPPLIERS}/{supplier['id']}"
    assert (await http.get(one, headers=admin)).json() == supplier
    same_name = await http.post(SUPPLIERS, json={"name": f"NORDWIND {tag} gmbh"}, headers=admin)
    problem(same_name, 409)

    patched = await http.patch(
        one, json={"vat_id": None, "name": f"Nordwind {tag} AG"}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["vat_id"] is None and patched.json()["iban"] == supplier["iban"]
    found = await http.get(SUPPLIERS, params={"q": f"wind {tag}"}, headers=admin)
    assert [s["id"] for s in found.json()["items"]] == [supplier["id"]]
    assert found.json()["total"] == 1

    assert (await http.delete(one, headers=admin)).status_code == 204
    assert (await http.get(one, headers=admin)).json()["active"] is False
    active = await http.get(SUPPLIERS, params={"q": tag, "active": True}, headers=admin)
    assert active.json()["items"] == []
    back = await http.patch(one, json={"active": True}, headers=admin)
    assert back.json()["active"] is True


async def test_bad_supplier_input_is_refused_with_a_problem(
    http: httpx.AsyncClient, admin: dict[str, str], tag: str
) -> None:
    name = f"Refused {tag}"
    wrongs: list[dict[str, Any]] = [
        {"iban": "DE89 3704 0044 0532 0130 01"},  # mod-97 fails
        {"iban": "not an iban"},
        {"vat_id": "??"},
        {"domains": ["https://acme.example"]},
        {"domains": ["ap@acme.example"]},
        {"domains": ["localhost"]},
        {"email": "nobody"},
        {"email": "a\u0000b@nul.example"},
        {"name": "x" * 201},
        {"name": "Nul\u0000Byte"},
        {"name": "   "},
        {"colour": "blue"},
        {"domains": [f"d{n}.example" for n in range(51)]},
    ]
    for wrong in wrongs:
        refused = await http.post(SUPPLIERS, json={"name": name} | wrong, headers=admin)
        problem(refused, 422)
    problem(await http.get(f"{SUPPLIERS}/sup-%00", headers=admin), 404)
    problem(await http.get(SUPPLIERS, params={"q": "a\u0000"}, headers=admin), 422)
    supplier = await created(http, SUPPLIERS, {"name": name}, admin)
    patches: list[dict[str, Any]] = [{"name": None}, {"active": None}, {"iban": "GB00WEST1234"}]
    for change in patches:
        refused = await http.patch(f"{SUPPLIERS}/{supplier['id']}", json=change, headers=admin)
        problem(refused, 422)


async def test_customers_crud_with_aliases(
    http: httpx.AsyncClient, admin: dict[str, str], tag: str
) -> None:
    name = f"Acme {tag} Corp"
    body = {"name": name, "aliases": ["ACME", "acme", "Acme Corporation"]}
    customer = await created(http, CUSTOMERS, body | {"vat_id": "FR 40 303265045"}, admin)
    assert customer["aliases"] == ["ACME", "Acme Corporation"]
    assert customer["vat_id"] == "FR40303265045"
    problem(await http.post(CUSTOMERS, json={"name": name.upper()}, headers=admin), 409)
    one = f"{CUSTOMERS}/{customer['id']}"
    patched = await http.patch(one, json={"aliases": ["Acme Inc"]}, headers=admin)
    assert patched.json()["aliases"] == ["Acme Inc"] and patched.json()["vat_id"] is not None
    listed = await http.get(CUSTOMERS, params={"q": tag, "limit": 1}, headers=admin)
    assert listed.json()["total"] == 1 and listed.json()["limit"] == 1
    assert (await http.delete(one, headers=admin)).status_code == 204
    problem(await http.get(one, headers=admin), 404)


async def test_only_admins_of_the_org_reach_master_data(
    http: httpx.AsyncClient, admin: dict[str, str], tag: str
) -> None:
    supplier = await created(http, SUPPLIERS, {"name": f"Private {tag}"}, admin)
    customer = await created(http, CUSTOMERS, {"name": f"Private {tag}"}, admin)
    line = {"line": 1, "description": "Desk", "quantity": "1", "unit_price": "100"}
    order_body = {"number": f"PO-{tag}", "supplier_id": supplier["id"], "currency": "EUR"}
    order = await created(http, ORDERS, order_body | {"lines": [line]}, admin)

    user = await as_user(http, "rita@acme.test")
    for path in (SUPPLIERS, CUSTOMERS, ORDERS, f"{SUPPLIERS}/{supplier['id']}"):
        problem(await http.get(path, headers=user), 403)
    problem(await http.post(SUPPLIERS, json={"name": f"Mine {tag}"}, headers=user), 403)
    problem(await upload(http, SUPPLIERS, "name\nX\n", user), 403)
    problem(await http.get(SUPPLIERS), 401)

    globex = await as_user(http, "admin@globex.test")
    ours = (
        f"{SUPPLIERS}/{supplier['id']}",
        f"{CUSTOMERS}/{customer['id']}",
        f"{ORDERS}/{order['id']}",
    )
    calls = [(m, p) for p in ours for m in ("GET", "PATCH", "DELETE")]
    for method, path in [*calls, ("GET", f"{ORDERS}/{order['id']}/receipts")]:
        problem(await http.request(method, path, json={}, headers=globex), 404)
    one_desk = [{"line": 1, "quantity": "1"}]
    receipt = {"number": f"GRN-{tag}", "received_on": "2026-01-05", "lines": one_desk}
    problem(await http.post(f"{ORDERS}/{order['id']}/receipts", json=receipt, headers=globex), 404)
    theirs = await http.post(
        ORDERS, json=order_body | {"number": f"GX-{tag}", "lines": [line]}, headers=globex
    )
    problem(theirs, 422)  # acme's supplier is no supplier of globex
    for path in (SUPPLIERS, CUSTOMERS, ORDERS):
        listed = await http.get(path, params={"q": tag, "limit": 200}, headers=globex)
        assert tag not in listed.text
    # Still acme's, unchanged.
    assert (await http.get(f"{ORDERS}/{order['id']}", headers=admin)).json() == order


async def test_purchase_orders_and_goods_receipts(
    http: httpx.AsyncClient, admin: dict[str, str], tag: str
) -> None:
    supplier = await created(http, SUPPLIERS, {"name": f"Paper {tag}"}, admin)
    lines = [
        {"line": 1, "description": "Paper A4", "quantity": "10", "unit_price": "4.99"},
        {"line": 2, "description": "Toner", "quantity": "2.5", "unit_price": "80.1234"},
    ]
    body = {"number": f"PO-{tag}", "supplier_id": supplier["id"], "currency": "EUR"}
    order = await created(http, ORDERS, body | {"lines": lines, "department": "Ops"}, admin)
    assert order["total"] == "250.2085"
    assert order["status"] == "OPEN" and order["lines"][1]["unit_price"] == "80.1234"
    problem(await http.post(ORDERS, json=body | {"lines": lines}, headers=admin), 409)
    wrongs: list[dict[str, Any]] = [
        {"currency": "eur"},
        {"currency": "EURO"},
        {"supplier_id": "sup-missing"},
        {"supplier_id": "sup-\u0000"},
        {"lines": []},
        {"lines": [lines[0], lines[0]]},
        {"lines": [lines[0] | {"quantity": "1000000001"}]},
        {"lines": [lines[0] | {"quantity": "1.23456"}]},
        {"lines": [lines[0] | {"quantity": "0"}]},
        {"lines": [lines[0] | {"unit_price": "NaN"}]},
    ]
    for wrong in wrongs:
        again = body | {"lines": lines, "number": f"X-{tag}"} | wrong
        problem(await http.post(ORDERS, json=again, headers=admin), 422)

    receipts = f"{ORDERS}/{order['id']}/receipts"
    six = [{"line": 1, "quantity": "6"}]
    first = {"number": f"GRN1-{tag}", "received_on": "2026-01-05", "lines": six}
    made = await created(http, receipts, first, admin)
    assert made["purchase_order_id"] == order["id"] and made["lines"][0]["quantity"] == "6"
    problem(await http.post(receipts, json=first, headers=admin), 409)  # same number
    too_many = first | {"number": f"GRN2-{tag}", "lines": [{"line": 1, "quantity": "4.0001"}]}
    problem(await http.post(receipts, json=too_many, headers=admin), 422)
    no_line = first | {"number": f"GRN2-{tag}", "lines": [{"line": 3, "quantity": "1"}]}
    problem(await http.post(receipts, json=no_line, headers=admin), 422)
    future = first | {"number": f"GRN2-{tag}", "received_on": "2999-01-01"}
    problem(await http.post(receipts, json=future, headers=admin), 422)
    rest = first | {"number": f"GRN2-{tag}", "lines": [{"line": 1, "quantity": "4"}]}
    await created(http, receipts, rest, admin)
    listed = await http.get(receipts, headers=admin)
    assert [r["number"] for r in listed.json()["items"]] == [f"GRN1-{tag}", f"GRN2-{tag}"]

    one = f"{ORDERS}/{order['id']}"
    fewer = [lines[0] | {"quantity": "9"}, lines[1]]
    problem(await http.patch(one, json={"lines": fewer}, headers=admin), 409)
    more = [lines[0], lines[1] | {"quantity": "3"}]
    patched = await http.patch(one, json={"lines": more, "department": None}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert patched.json()["department"] is None and patched.json()["total"].startswith("290.2702")
    closed = await http.patch(one, json={"status": "CLOSED"}, headers=admin)
    assert closed.json()["status"] == "CLOSED"
    late = first | {"number": f"GRN3-{tag}", "lines": [{"line": 2, "quantity": "1"}]}
    problem(await http.post(receipts, json=late, headers=admin), 409)
    filtered = await http.get(
        ORDERS, params={"supplier_id": supplier["id"], "status": "CLOSED"}, headers=admin
    )
    assert [o["id"] for o in filtered.json()["items"]] == [order["id"]]
    assert (await http.delete(one, headers=admin)).status_code == 204
    assert (await http.get(one, headers=admin)).json()["status"] == "CANCELLED"
    problem(await http.patch(one, json={"status": "OPEN"}, headers=admin), 409)
    assert len((await http.get(receipts, headers=admin)).json()["items"]) == 2


async def test_supplier_import_is_all_or_nothing(
    http: httpx.AsyncClient, admin: dict[str, str], tag: str
) -> None:
    existing = await created(
        http, SUPPLIERS, {"name": f"Old {tag}", "email": "a@old.example"}, admin
    )
    bad = (
        "name,vat_id,domains,iban,email\n"
        f"New {tag},DE 111 222 333,new.example; mail.new.example,{IBAN},ap@new.example\n"
        f"Bad IBAN {tag},,,DE89370400440532013001,\n"
        f"old {tag},,old.example,,\n"
        f",,,,\n"  # blank row: skipped
        f",DE999,,,\n"
        f"Bad domain {tag},,http://x.example,,\n"
        f"NEW {tag},,,,\n"
    )
    refused = await upload(http, SUPPLIERS, bad, admin)
    assert row_errors(refused) == {
        (3, "iban"),
        (6, "name"),
        (7, "domains"),
        (8, "name"),  # repeats row 2, in another case
    }
    listed = await http.get(SUPPLIERS, params={"q": tag}, headers=admin)
    assert [s["name"] for s in listed.json()["items"]] == [f"Old {tag}"]

    good = "\ufeff" + "\n".join(
        [
            "Name;Domains;VAT_ID",
            f"New {tag};new.example mail.new.example;DE 111 222 333",
            f"old {tag};old.example;",
        ]
    )
    dry = await upload(http, SUPPLIERS, good, admin, dry_run="true")
    assert dry.json() == {"rows": 2, "created": 1, "updated": 1, "dry_run": True}
    assert (await http.get(SUPPLIERS, params={"q": tag}, headers=admin)).json()["total"] == 1
    done = await upload(http, SUPPLIERS, good.encode(), admin)
    assert done.json() == {"rows": 2, "created": 1, "updated": 1, "dry_run": False}
    rows = (await http.get(SUPPLIERS, params={"q": tag}, headers=admin)).json()["items"]
    by_name = {s["name"]: s for s in rows}
    assert by_name[f"New {tag}"]["domains"] == ["mail.new.example", "new.example"]
    assert by_name[f"New {tag}"]["vat_id"] == "DE111222333"
    old = by_name[f"old {tag}"]
    assert old["id"] == existing["id"] and old["domains"] == ["old.example"]
    assert old["email"] == "a@old.example"  # no email column: left as it was


async def test_a_file_that_is_not_a_csv_is_refused(
    http: httpx.AsyncClient, admin: dict[str, str], tag: str
) -> None:
    for content, status in (
        ("name,vat_id\nCaf\xe9 {tag},\n".encode("latin-1"), 422),
        (b"%PDF-1.4\x00\x01binary", 422),
        ("vat_id,iban\nDE123,\n", 422),  # no name column
        ("name,colour\nX,blue\n", 422),
        ("name\n", 422),
        ("", 422),
        ('name\n"unterminated\n', 422),
        ("name\n" + "x\n" * (2 * 1024 * 1024), 413),
    ):
        problem(await upload(http, SUPPLIERS, content, admin), status)
    problem(await http.post(f"{SUPPLIERS}/import", headers=admin), 422)  # no file at all


async def test_customer_import_splits_aliases(
    http: httpx.AsyncClient, admin: dict[str, str], tag: str
) -> None:
    text = f'name,aliases,vat_id\n"Globex {tag}, Inc.","GX; Globex {tag};  ",\n'
    done = await upload(http, CUSTOMERS, text, admin)
    assert done.json()["created"] == 1, done.text
    found = (await http.get(CUSTOMERS, params={"q": tag}, headers=admin)).json()["items"]
    assert [(c["name"], c["aliases"]) for c in found] == [
        (f"Globex {tag}, Inc.", ["GX", f"Globex {tag}"])
    ]
    refused = await upload(http, CUSTOMERS, f"name,vat_id\nX {tag},??\nY {tag},\n", admin)
    assert row_errors(refused) == {(2, "vat_id")}


async def test_purchase_order_import_groups_lines_by_number(
    http: httpx.AsyncClient, admin: dict[str, str], tag: str
) -> None:
    supplier = await created(http, SUPPLIERS, {"name": f"Ink {tag} Ltd"}, admin)
    await created(http, SUPPLIERS, {"name": f"Retired {tag}"}, admin)
    retired = (await http.get(SUPPLIERS, params={"q": f"Retired {tag}"}, headers=admin)).json()
    await http.delete(f"{SUPPLIERS}/{retired['items'][0]['id']}", headers=admin)
    head = "po_number,supplier,currency,department,line,description,quantity,unit_price\n"
    good = head + (
        f"A-{tag},ink {tag} ltd,EUR,IT,1,Cyan,2,10\n"
        f"A-{tag},ink {tag} ltd,EUR,IT,2,Magenta,1,12.5\n"
        f"B-{tag},{supplier['id']},USD,,1,Black,3,9.99\n"
    )
    done = await upload(http, ORDERS, good, admin)
    assert done.json() == {"rows": 3, "created": 2, "updated": 0, "dry_run": False}, done.text
    orders = await http.get(ORDERS, params={"supplier_id": supplier["id"]}, headers=admin)
    by_number = {o["number"]: o for o in orders.json()["items"]}
    assert by_number[f"A-{tag}"]["total"].startswith("32.5")
    assert [ln["line"] for ln in by_number[f"A-{tag}"]["lines"]] == [1, 2]
    assert (
        by_number[f"B-{tag}"]["currency"] == "USD" and by_number[f"B-{tag}"]["department"] is None
    )

    bad = head + (
        f"A-{tag},ink {tag} ltd,EUR,IT,1,Cyan,3,10\n"  # row 2: an update, fine
        f"A-{tag},ink {tag} ltd,GBP,IT,2,Magenta,1,12.5\n"  # row 3: currency differs
        f"A-{tag},ink {tag} ltd,EUR,IT,1,Cyan again,1,1\n"  # row 4: line 1 twice
        f"C-{tag},Nobody {tag},EUR,,1,Pens,1,1\n"  # row 5: no such supplier
        f"D-{tag},Retired {tag},EUR,,1,Pens,1,1\n"  # row 6: inactive supplier
        f"E-{tag},ink {tag} ltd,eur,,1,Pens,-1,1\n"  # row 7: currency and quantity
    )
    refused = await upload(http, ORDERS, bad, admin)
    assert row_errors(refused) == {
        (3, "currency"),
        (4, "line"),
        (5, "supplier"),
        (6, "supplier"),
        (7, "currency"),
        (7, "quantity"),
    }
    update = head + f"A-{tag},{supplier['id']},EUR,Ops,1,Cyan,4,10\n"
    done = await upload(http, ORDERS, update, admin)
    assert done.json()["updated"] == 1 and done.json()["created"] == 0
    again = await http.get(f"{ORDERS}/{by_number[f'A-{tag}']['id']}", headers=admin)
    assert again.json()["department"] == "Ops" and len(again.json()["lines"]) == 1
    assert again.json()["total"].startswith("40")


async def test_two_receipts_at_once_cannot_both_take_the_last_units(
    http: httpx.AsyncClient, admin: dict[str, str], tag: str
) -> None:
    supplier = await created(http, SUPPLIERS, {"name": f"Race {tag}"}, admin)
    line = {"line": 1, "description": "Chairs", "quantity": "10", "unit_price": "50"}
    body = {"number": f"R-{tag}", "supplier_id": supplier["id"], "currency": "EUR"}
    order = await created(http, ORDERS, body | {"lines": [line]}, admin)
    receipts = f"{ORDERS}/{order['id']}/receipts"
    bodies = [
        {
            "number": f"R{n}-{tag}",
            "received_on": "2026-01-05",
            "lines": [{"line": 1, "quantity": "6"}],
        }
        for n in range(2)
    ]
    answers = await asyncio.gather(*(http.post(receipts, json=b, headers=admin) for b in bodies))
    assert sorted(a.status_code for a in answers) == [201, 422], [a.text for a in answers]
