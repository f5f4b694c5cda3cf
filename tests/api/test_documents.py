"""Documents of a request over HTTP, on the local store and on S3: upload checks (who, how big,
what type), where the bytes land, signed download links (expiry, tampering) and safe names."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests.api.conftest import Stack, login, start_purchase
from tests.api.s3_server import S3Api

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"xref\n0 4\n0000000000 65535 f \n0000000009 00000 n \n0000000052 00000 n \n"
    b"0000000101 00000 n \ntrailer<</Size 4/Root 1 0 R>>\nstartxref\n164\n%%EOF\n"
)
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00:~\x9bU"
    b"\x00\x00\x00\nIDATx\x9cc\x00\x00\x00\x02\x00\x01\xe5'\xde\xfc\x00\x00\x00\x00IEND\xaeB`\x82"
)
SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._ -]*$")
Headers = dict[str, str]


@dataclass
class Store:
    """The API of one object store, and a look inside that store that bypasses the API."""

    kind: str
    stack: Stack
    keys: Callable[[str], list[str]]  # every key under a prefix
    read: Callable[[str], bytes]
    content_type: Callable[[str], str | None]  # the S3 object's Content-Type

    def setting(self, name: str) -> int:
        return int(self.stack.env[f"SIGNOFF_{name}"])


def _local_store(stack: Stack) -> Store:
    root = Path(stack.env["SIGNOFF_DATA_DIR"]) / "objects"

    def keys(prefix: str) -> list[str]:
        folder = root / prefix
        found = folder.rglob("*") if folder.is_dir() else iter(())
        return sorted(p.relative_to(root).as_posix() for p in found if p.is_file())

    return Store("local", stack, keys, lambda key: (root / key).read_bytes(), lambda _: None)


def _s3_store(api: S3Api) -> Store:
    def keys(prefix: str) -> list[str]:
        listed = api.client.list_objects_v2(Bucket=api.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def read(key: str) -> bytes:
        return api.client.get_object(Bucket=api.bucket, Key=key)["Body"].read()

    def content_type(key: str) -> str | None:
        return api.client.head_object(Bucket=api.bucket, Key=key).get("ContentType")

    return Store("s3", api.stack, keys, read, content_type)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, stack: Stack) -> Store:
    """Each test runs against the API on the local store, then the API on S3."""
    if request.param == "local":
        return _local_store(stack)
    return _s3_store(request.getfixturevalue("s3_api"))


@pytest.fixture
def local(stack: Stack) -> Store:
    """For checks that do not depend on the store: the local one only."""
    return _local_store(stack)


@pytest.fixture
async def api(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=store.stack.url, timeout=30) as client:
        yield client


async def _new_request(http: httpx.AsyncClient, amount: str = "2500") -> tuple[str, Headers]:
    """A fresh purchase request by rita; its id and rita's headers."""
    rita = await login(http, "rita@acme.test")
    started = await start_purchase(http, rita, amount=amount)
    request_id: str = started["request"]["request_id"]  # type: ignore[index]
    return request_id, rita


async def _upload(
    http: httpx.AsyncClient, headers: Headers, rid: str, data: bytes, name: str = "invoice.pdf"
) -> httpx.Response:
    files = {"file": (name, data, "text/plain" if name.endswith(".txt") else "application/pdf")}
    return await http.post(f"/api/v1/requests/{rid}/documents", files=files, headers=headers)


async def _with_pdf(http: httpx.AsyncClient, **extra: str) -> tuple[str, Headers, Any]:
    """A fresh request of rita's with a PDF: its id, rita's headers, the document's JSON."""
    request_id, rita = await _new_request(http)
    response = await _upload(http, rita, request_id, PDF, **extra)
    assert response.status_code == 201, response.text
    return request_id, rita, response.json()


async def _link(http: httpx.AsyncClient, headers: Headers, rid: str, doc: str) -> str:
    """The signed URL that GET document redirects to."""
    response = await http.get(f"/api/v1/requests/{rid}/documents/{doc}", headers=headers)
    assert response.status_code == 307, response.text
    location: str = response.headers["location"]
    return location


async def _fetch(url: str) -> httpx.Response:
    """Follow a signed link as an anonymous browser would: no Authorization header."""
    async with httpx.AsyncClient(timeout=30) as anonymous:
        return await anonymous.get(url)


def _disposition_filename(header: str) -> str | None:
    extended = re.search(r"filename\*=UTF-8''([^;]+)", header, re.IGNORECASE)
    if extended:
        return unquote(extended.group(1))
    plain = re.search(r'filename="([^"]*)"', header)
    return plain.group(1) if plain else None


async def _listed(http: httpx.AsyncClient, headers: Headers, rid: str) -> Any:
    response = await http.get(f"/api/v1/requests/{rid}/documents", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_pdf_is_stored_under_the_request(store: Store, api: httpx.AsyncClient) -> None:
    request_id, rita, doc = await _with_pdf(api)
    assert (doc["request_id"], doc["filename"]) == (request_id, "invoice.pdf")
    assert (doc["content_type"], doc["size"]) == ("application/pdf", len(PDF))
    assert (doc["sha256"], doc["uploaded_by"]) == (hashlib.sha256(PDF).hexdigest(), "acme-rita")
    (key,) = store.keys(f"requests/{request_id}/")
    assert key.startswith(f"requests/{request_id}/documents/") and key.endswith("/invoice.pdf")
    assert store.read(key) == PDF
    assert store.content_type(key) in (None, "application/pdf")
    assert await _listed(api, rita, request_id) == [doc]


async def test_the_download_link_serves_the_bytes_to_anyone_holding_it(
    store: Store, api: httpx.AsyncClient
) -> None:
    request_id, rita, doc = await _with_pdf(api, name="Invoice 2024-07.pdf")
    url = await _link(api, rita, request_id, doc["id"])
    assert not url.startswith("/"), "the link must be absolute"
    served = await _fetch(url)
    assert served.status_code == 200 and served.content == PDF, served.text
    assert served.headers["content-type"].startswith("application/pdf")
    disposition = served.headers["content-disposition"]
    assert disposition.startswith("attachment")
    assert _disposition_filename(disposition) == "Invoice 2024-07.pdf"


async def test_the_download_link_expires(store: Store, api: httpx.AsyncClient) -> None:
    request_id, rita, doc = await _with_pdf(api)
    url = await _link(api, rita, request_id, doc["id"])
    assert (await _fetch(url)).status_code == 200
    await asyncio.sleep(store.setting("SIGNED_URL_SECONDS") + 1)
    assert (await _fetch(url)).status_code == 403


def _tamper(url: str, names: tuple[str, str], change: Callable[[str], str]) -> str:
    """Change the raw value of the query parameter named names[0] (local) or names[1] (S3)."""
    base, query = url.split("?", 1)
    params = query.split("&")
    (hit,) = [i for i, p in enumerate(params) if p.split("=", 1)[0] in names]
    name, value = params[hit].split("=", 1)
    params[hit] = f"{name}={change(value)}"
    return f"{base}?{'&'.join(params)}"


def _flip(text: str) -> str:
    """The same text with its first character replaced by another hex digit."""
    return ("1" if text[0] == "0" else "0") + text[1:]


TAMPERINGS: dict[str, tuple[tuple[str, str], Callable[[str], str]]] = {
    "signature": (("sig", "X-Amz-Signature"), _flip),
    "lifetime": (("expires", "X-Amz-Expires"), lambda v: str(int(v) + 3600)),
    "content type": (("type", "response-content-type"), lambda v: v.replace("application", "text")),
    "filename": (("filename", "response-content-disposition"), lambda v: v.replace(".pdf", ".htm")),
}


@pytest.mark.parametrize("what", ["key", *TAMPERINGS])
async def test_a_tampered_link_is_refused(store: Store, api: httpx.AsyncClient, what: str) -> None:
    request_id, rita, doc = await _with_pdf(api)
    url = await _link(api, rita, request_id, doc["id"])
    forged = f"{doc['id'][:-1]}{_flip(doc['id'][-1])}"
    tampered = url.replace(doc["id"], forged) if what == "key" else _tamper(url, *TAMPERINGS[what])
    assert tampered != url
    refused = await _fetch(tampered)
    assert refused.status_code == 403, refused.text
    assert PDF not in refused.content
    assert (await _fetch(url)).status_code == 200  # the untouched link still works


async def test_the_size_limit(store: Store, api: httpx.AsyncClient) -> None:
    limit = store.setting("UPLOAD_MAX_BYTES")
    request_id, rita = await _new_request(api)
    too_big = PDF + b"%" * (limit + 1 - len(PDF))
    refused = await _upload(api, rita, request_id, too_big)
    assert refused.status_code == 413, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert store.keys(f"requests/{request_id}/") == []
    assert await _listed(api, rita, request_id) == []
    accepted = await _upload(api, rita, request_id, too_big[:limit])
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["size"] == limit


async def test_a_png_named_pdf_is_stored_as_png(store: Store, api: httpx.AsyncClient) -> None:
    request_id, rita = await _new_request(api)
    response = await _upload(api, rita, request_id, PNG, "scan.pdf")
    assert response.status_code == 201, response.text
    doc = response.json()
    assert doc["content_type"] == "image/png" and doc["filename"].endswith(".png")
    (key,) = store.keys(f"requests/{request_id}/documents/")
    assert store.read(key) == PNG
    assert store.content_type(key) in (None, "image/png")
    served = await _fetch(await _link(api, rita, request_id, doc["id"]))
    assert served.headers["content-type"].startswith("image/png")
    assert _disposition_filename(served.headers["content-disposition"]) == doc["filename"]


ACCEPTED = {
    "pdf": (PDF, "application/pdf"),
    "png": (PNG, "image/png"),
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\0" + b"\0" * 8 + b"\xff\xd9", "image/jpeg"),
    "tiff": (b"II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00", "image/tiff"),
    "gif": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
    "webp": (b"RIFF\x1a\x00\x00\x00WEBPVP8L" + b"\0" * 18, "image/webp"),
    "xml": (b'<?xml version="1.0"?>\n<Invoice/>\n', "application/xml"),
    "text": ("Rechnung 42 \u2013 bitte zahlen\n".encode(), "text/plain"),
}


@pytest.mark.parametrize("kind", list(ACCEPTED))
async def test_allowed_types_are_judged_by_content(
    local: Store, http: httpx.AsyncClient, kind: str
) -> None:
    data, expected = ACCEPTED[kind]  # sent as upload.bin, claimed application/pdf
    request_id, rita = await _new_request(http)
    response = await _upload(http, rita, request_id, data, "upload.bin")
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == expected
    (key,) = local.keys(f"requests/{request_id}/documents/")
    assert local.read(key) == data


REFUSED = [
    pytest.param(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56, "invoice.pdf", id="elf-as-pdf"),
    pytest.param(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 56, "invoice.pdf", id="exe-as-pdf"),
    pytest.param(
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\0" * 20, "invoice.pdf", id="zip-as-pdf"
    ),
    pytest.param(b"<!DOCTYPE html><html><body>pay here</body></html>", "notes.txt", id="html"),
    pytest.param(b"<html><body><p>pay here</p></body></html>", "notes.txt", id="html-no-doctype"),
    pytest.param(
        b"<!-- saved from url=(0014)about:internet -->\n<html><body>pay</body></html>",
        "notes.txt",
        id="html-after-comment",
    ),
    pytest.param(
        b"<body onload=\"location='https://evil.test'\"><h1>Invoice</h1></body>",
        "notes.txt",
        id="html-body-only",
    ),
    pytest.param(
        b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>x()</script>',
        "invoice.xml",
        id="xhtml-as-xml",
    ),
    pytest.param(b"", "invoice.pdf", id="empty"),
]


@pytest.mark.parametrize(("data", "filename"), REFUSED)
async def test_other_types_are_refused_whatever_their_name(
    local: Store, http: httpx.AsyncClient, data: bytes, filename: str
) -> None:
    request_id, rita = await _new_request(http)
    response = await _upload(http, rita, request_id, data, filename)
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert local.keys(f"requests/{request_id}/") == []
    assert await _listed(http, rita, request_id) == []


async def test_only_participants_and_management_reach_documents(
    local: Store, http: httpx.AsyncClient
) -> None:
    # Below 1000 the purchase has one level (team lead alice): bob of finance takes no part.
    request_id, rita = await _new_request(http, amount="500")
    doc = (await _upload(http, rita, request_id, PDF)).json()
    base = f"/api/v1/requests/{request_id}/documents"
    bob = await login(http, "bob@acme.test")
    assert (await _upload(http, bob, request_id, PDF)).status_code == 403
    assert (await http.get(base, headers=bob)).status_code == 403
    refused = await http.get(f"{base}/{doc['id']}", headers=bob)
    assert refused.status_code == 403
    assert "location" not in refused.headers
    assert len(local.keys(f"requests/{request_id}/")) == 1  # bob's upload stored nothing

    alice = await login(http, "alice@acme.test")
    by_alice = await _upload(http, alice, request_id, PNG, "quote.png")
    assert by_alice.status_code == 201, by_alice.text
    assert by_alice.json()["uploaded_by"] == "acme-alice"
    assert (await _fetch(await _link(http, alice, request_id, doc["id"]))).content == PDF

    manager = await login(http, "manager@acme.test")
    listed = await _listed(http, manager, request_id)
    assert [d["id"] for d in listed] == [doc["id"], by_alice.json()["id"]]
    assert (await _fetch(await _link(http, manager, request_id, doc["id"]))).content == PDF


@pytest.mark.parametrize("email", ["user@globex.test", "admin@globex.test"])
async def test_another_orgs_users_find_no_documents(
    local: Store, http: httpx.AsyncClient, email: str
) -> None:
    request_id, rita, doc = await _with_pdf(http)
    stranger = await login(http, email)
    base = f"/api/v1/requests/{request_id}/documents"
    assert (await _upload(http, stranger, request_id, PDF)).status_code == 404
    assert (await http.get(base, headers=stranger)).status_code == 404
    refused = await http.get(f"{base}/{doc['id']}", headers=stranger)
    assert refused.status_code == 404
    assert "location" not in refused.headers
    assert len(local.keys(f"requests/{request_id}/")) == 1


async def test_a_document_is_reached_only_through_its_own_request(
    local: Store, http: httpx.AsyncClient
) -> None:
    first, rita, doc = await _with_pdf(http)
    second, _ = await _new_request(http)
    wrong = await http.get(f"/api/v1/requests/{second}/documents/{doc['id']}", headers=rita)
    assert wrong.status_code == 404
    missing = await http.get(f"/api/v1/requests/{first}/documents/doc-nope", headers=rita)
    assert missing.status_code == 404
    nowhere = await _upload(http, rita, "req-does-not-exist", PDF)
    assert nowhere.status_code == 404


NAMES = [
    ("../../../etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\windows\\system32\\evil.pdf", "evil.pdf"),
    ("C:\\Users\\rita\\Desktop\\invoice.pdf", "invoice.pdf"),
    ("/absolute/path/report.pdf", "report.pdf"),
    ('quote"semi;colon\r\nSet-Cookie: a=b.pdf', None),
    ("rechnung m\u00e4rz \u20ac <1>|*?:.pdf", None),
    ("..%2F..%2Fsecret.pdf", None),
    (".htaccess", None),
    ("....", None),
    ("x" * 400 + ".pdf", None),
]


@pytest.mark.parametrize(("sent", "expected"), NAMES, ids=[f"name{i}" for i in range(len(NAMES))])
async def test_filenames_are_made_safe(
    store: Store, api: httpx.AsyncClient, sent: str, expected: str | None
) -> None:
    request_id, rita, doc = await _with_pdf(api, name=sent)
    name: str = doc["filename"]
    assert SAFE_NAME.match(name), name
    assert name.endswith(".pdf") and len(name) <= 255
    if expected is not None:
        assert name == expected

    (key,) = store.keys(f"requests/{request_id}/")
    assert key.startswith(f"requests/{request_id}/documents/") and key.endswith(f"/{name}")
    assert ".." not in key.split("/")
    if store.kind == "local":
        data_dir = Path(store.stack.env["SIGNOFF_DATA_DIR"])
        for path in data_dir.rglob("*.pdf"):  # nothing escaped to elsewhere
            parts = path.relative_to(data_dir).parts
            assert parts[:2] == ("objects", "requests") and parts[3] == "documents", path
    served = await _fetch(await _link(api, rita, request_id, doc["id"]))
    assert served.status_code == 200 and served.content == PDF
    assert _disposition_filename(served.headers["content-disposition"]) == name
