"""Shared by the reference ERP's master-data tests (suppliers, customers, purchase orders and
access): the routes, a per-test name suffix, Acme's ADMIN, and calls that check the answer.

Test modules load it with `pytest_plugins = ["tests.api.master_data_fixtures"]` after importing
its constants and functions.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api.conftest import as_user

API = "/api/v1"
SUPPLIERS, CUSTOMERS, ORDERS = f"{API}/suppliers", f"{API}/customers", f"{API}/purchase-orders"
PROBLEM = "application/problem+json"
ADMIN = "admin@acme.test"


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
