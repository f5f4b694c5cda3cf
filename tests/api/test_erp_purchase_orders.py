"""The reference ERP's purchase orders and goods receipts over HTTP: CRUD, input checks,
receipts against what was ordered (one at a time), and the CSV import of order lines."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.master_data_fixtures import ORDERS, SUPPLIERS, created, problem, row_errors, upload

pytest_plugins = ["tests.api.master_data_fixtures"]


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
