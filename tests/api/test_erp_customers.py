"""The reference ERP's customers over HTTP: CRUD with aliases, and the CSV import that splits
them."""

from __future__ import annotations

import httpx

from tests.api.master_data_fixtures import CUSTOMERS, created, problem, row_errors, upload

pytest_plugins = ["tests.api.master_data_fixtures"]


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
