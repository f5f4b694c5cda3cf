"""E-mailed approve/reject links: GET shows a confirmation page and never acts (mail scanners
fetch every link); POST acts once. Reused -> 409, expired -> 410, unknown -> 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.service import RPCError

from api.deps import ClientIp, ContextDep, SessionDep
from clients.approvals import RequestRefused, request_handle, send_update
from notify.tokens import token_hash
from schemas.approval import ApproveInput, RejectInput
from store.tables import ActionToken, RequestLevelRecord, RequestRecord
from workflows.approval import ApprovalWorkflow

router = APIRouter(tags=["actions"])

_PAGES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",)),
)
_HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _page(status: int, heading: str, message: str, **context: Any) -> HTMLResponse:
    html = _PAGES.get_template("action.html.j2").render(
        heading=heading,
        message=message,
        **{"request": None, "level": None, "form": False} | context,
    )
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


@dataclass
class _Found:
    token: ActionToken
    request: RequestRecord | None
    level: RequestLevelRecord | None


async def _find(session: AsyncSession, raw: str) -> _Found | HTMLResponse:
    token = await session.get(ActionToken, token_hash(raw))
    if token is None or token.action not in ("approve", "reject"):
        return _page(404, "Unknown link", "This link is not valid. Open the request in Signoff.")
    request = await session.get(RequestRecord, token.request_id)
    level = await session.get(RequestLevelRecord, (token.request_id, token.level_id))
    return _Found(token, request, level)


def _refusal(found: _Found, now: datetime) -> HTMLResponse | None:
    """Why the link can no longer act, as a page; None when it still can."""
    token, request, level = found.token, found.request, found.level
    context = {"request": request, "level": level}
    if token.used_at is not None:
        return _page(409, "Link already used", "This link has been used already.", **context)
    if token.expires_at <= now:
        return _page(410, "Link expired", "This link has expired. Open the request.", **context)
    if request is None or request.status != "IN_PROGRESS":
        status = request.status if request else "closed"
        return _page(409, "Nothing to decide", f"The request is already {status}.", **context)
    if level is None or level.status != "ACTIVE" or token.approver not in level.approvers:
        return _page(
            409,
            "Nothing to decide",
            f"Level {token.level_id} has moved on; your decision is no longer needed.",
            **context,
        )
    return None


@router.get("/actions/{token}", response_class=HTMLResponse)
async def confirm(token: str, session: SessionDep) -> HTMLResponse:
    """The confirmation page; fetching it changes nothing."""
    found = await _find(session, token)
    if isinstance(found, HTMLResponse):
        return found
    refused = _refusal(found, datetime.now(UTC))
    if refused is not None:
        return refused
    action = found.token.action
    verb = "approve" if action == "approve" else "reject"
    return _page(
        200,
        f"{verb.capitalize()} this request?",
        f"You are about to {verb} this request as {found.token.approver}.",
        request=found.request,
        level=found.level,
        form=True,
        action=action,
    )


@router.post("/actions/{token}", response_class=HTMLResponse)
async def act(
    token: str,
    session: SessionDep,
    context: ContextDep,
    ip: ClientIp,
    text: Annotated[str, Form(max_length=5000)] = "",
) -> HTMLResponse:
    """Approve or reject once; the token is spent even when the request has moved on."""
    found = await _find(session, token)
    if isinstance(found, HTMLResponse):
        return found
    now = datetime.now(UTC)
    refused = _refusal(found, now)
    if refused is not None:
        return refused
    row = found.token
    if row.action == "reject" and not text.strip():
        return _page(
            422,
            "A reason is needed",
            "Please say why you reject the request.",
            request=found.request,
            level=found.level,
            form=True,
            action="reject",
        )
    claimed = await session.exec(
        update(ActionToken)
        .where(col(ActionToken.token_hash) == row.token_hash, col(ActionToken.used_at).is_(None))
        .values(used_at=now)
        .returning(col(ActionToken.token_hash))
    )
    if claimed.first() is None:
        return _page(409, "Link already used", "This link has been used already.")
    await session.commit()
    update_input: ApproveInput | RejectInput
    if row.action == "approve":
        update_input = ApproveInput(
            actor=row.approver,
            ip=ip,
            comment=text.strip() or None,
            level_id=row.level_id,
            via="email",
        )
        handler: Any = ApprovalWorkflow.approve
    else:
        update_input = RejectInput(
            actor=row.approver, ip=ip, reason=text.strip(), level_id=row.level_id, via="email"
        )
        handler = ApprovalWorkflow.reject
    page_context = {"request": found.request, "level": found.level}
    try:
        result = await send_update(
            request_handle(context.temporal, row.request_id), handler, update_input
        )
    except RequestRefused as refusal:
        return _page(
            409, "Not applied", f"Your decision was not applied: {refusal.reason}.", **page_context
        )
    except (RPCError, RuntimeError):
        # Nothing reached the request: give the link back so it can be used again.
        await session.exec(
            update(ActionToken)
            .where(col(ActionToken.token_hash) == row.token_hash)
            .values(used_at=None)
        )
        await session.commit()
        return _page(
            503, "Try again shortly", "Signoff cannot reach the request right now.", **page_context
        )
    done = "approved" if row.action == "approve" else "rejected"
    return _page(
        200,
        f"You {done} the request",
        f"Thank you. The request is now {result.request.status.value}.",
        **page_context,
    )
