"""Who reaches the reference ERP's master data: only ADMINs, and only of the org that owns it."""

from __future__ import annotations

import httpx

from tests.api.conftest import as_user
from tests.api.master_data_fixtures import (
    CUSTOMERS,
    ORDERS,
    SUPPLIERS,
    created,
    problem,
    upload,
)

pytest_plugins = ["tests.api.master_data_fixtures"]


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
