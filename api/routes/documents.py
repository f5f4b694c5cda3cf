"""Documents of a request: upload (size and type checked), list, and signed download links."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from api.access import request_in_org, require_participant
from api.content_types import extension_for, sniff
from api.deps import ContextDep, CurrentUser, SessionDep
from api.problems import Problem, not_found
from schemas.request_api import DocumentOut
from store.objects import LocalObjectStore, ObjectMissing
from store.tables import Document

router = APIRouter(tags=["documents"])
files_router = APIRouter(tags=["documents"])

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def _safe_filename(name: str | None, content_type: str) -> str:
    stem = _UNSAFE.sub("_", (name or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(" .")
    stem = stem[:150] or "document"
    extension = extension_for(content_type)
    return stem if stem.lower().endswith("." + extension) else f"{stem}.{extension}"


async def read_limited(upload: UploadFile, limit: int) -> bytes:
    """The upload's bytes; 413 once they pass `limit`."""
    chunks, size = [], 0
    while chunk := await upload.read(1024 * 1024):
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"the file is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/requests/{request_id}/documents",
    response_model=DocumentOut,
    status_code=201,
    responses={413: {"description": "Too large"}, 415: {"description": "Type not allowed"}},
)
async def upload(
    request_id: str,
    file: Annotated[UploadFile, File(description="PDF, image, XML or plain text")],
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
) -> DocumentOut:
    """Attach a file; its type is judged by its content, whatever its name says."""
    row = await request_in_org(session, user, request_id)
    await require_participant(session, row, user)
    data = await read_limited(file, context.settings.upload_max_bytes)
    content_type = sniff(data)
    if content_type is None:
        raise Problem(
            415, "only PDF, PNG, JPEG, TIFF, GIF, WebP, XML and plain text files are accepted"
        )
    document_id = f"doc-{uuid.uuid4().hex}"
    filename = _safe_filename(file.filename, content_type)
    key = f"requests/{request_id}/documents/{document_id}/{filename}"
    await run_in_threadpool(context.objects.put, key, data, content_type)
    document = Document(
        id=document_id,
        org_id=user.org_id,
        request_id=request_id,
        object_key=key,
        filename=filename,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by=user.user_id,
        created_at=datetime.now(UTC),
    )
    session.add(document)
    await session.commit()
    return DocumentOut.model_validate(document, from_attributes=True)


@router.get("/requests/{request_id}/documents", response_model=list[DocumentOut])
async def list_documents(
    request_id: str, user: CurrentUser, session: SessionDep
) -> list[DocumentOut]:
    """The request's documents, oldest first."""
    row = await request_in_org(session, user, request_id)
    await require_participant(session, row, user)
    rows = await session.exec(
        select(Document)
        .where(col(Document.request_id) == request_id)
        .order_by(col(Document.created_at))
    )
    return [DocumentOut.model_validate(d, from_attributes=True) for d in rows]


@router.get(
    "/requests/{request_id}/documents/{document_id}",
    status_code=307,
    response_class=RedirectResponse,
    responses={307: {"description": "Redirect to a short-lived signed URL"}},
)
async def download(
    request_id: str, document_id: str, user: CurrentUser, session: SessionDep, context: ContextDep
) -> RedirectResponse:
    """307 to a signed URL that serves the file for a short while."""
    row = await request_in_org(session, user, request_id)
    await require_participant(session, row, user)
    document = await session.get(Document, document_id)
    if document is None or document.request_id != request_id:
        raise not_found("document")
    url = context.objects.signed_url(document.object_key, document.filename, document.content_type)
    return RedirectResponse(url, status_code=307)


@files_router.get("/files/{key:path}", include_in_schema=False)
async def serve_local_file(
    key: str,
    context: ContextDep,
    expires: Annotated[int, Query()],
    filename: Annotated[str, Query(max_length=300)],
    type: Annotated[str, Query(max_length=100)],
    sig: Annotated[str, Query(max_length=128)],
) -> Response:
    """Serve a file of the local store to the holder of a valid signed URL."""
    store = context.objects
    if not isinstance(store, LocalObjectStore):
        raise not_found("file")
    if not store.verify(key, expires, filename, type, sig):
        raise Problem(403, "the link is invalid or has expired")
    try:
        data = await run_in_threadpool(store.get, key)
    except (ObjectMissing, ValueError):
        raise not_found("file") from None
    disposition = f'attachment; filename="{_safe_filename(filename, type)}"'
    return Response(data, media_type=type, headers={"Content-Disposition": disposition})
