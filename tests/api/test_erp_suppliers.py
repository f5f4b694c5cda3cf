"""The reference ERP's suppliers over HTTP: CRUD with normalised identifiers, deactivation,
input checks, and the CSV import (all or nothing, and refusing what is no CSV)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.master_data_fixtures import SUPPLIERS, created, problem, row_errors, upload

pytest_plugins = ["tests.api.master_data_fixtures"]

IBAN = "DE89 3704 0044 0532 0130 00"


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
