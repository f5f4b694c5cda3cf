"""Who may see and act on a request: org scoping (404) and participation (403).

The checks read only the columns they need, never the request's JSON snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import Principal
from api.problems import Problem, forbidden, not_found
from store.tables import RequestLevelRecord, RequestRecord, User


@dataclass(frozen=True)
class RequestRef:
    """Enough of a request to check access and explain a refusal."""

    id: str
    org_id: str
    requester: str
    status: str


async def request_in_org(session: AsyncSession, user: Principal, request_id: str) -> RequestRef:
    """The request; another org's request is as missing as a request that never was."""
    found = await session.exec(
        select(
            RequestRecord.id, RequestRecord.org_id, RequestRecord.requester, RequestRecord.status
        ).where(col(RequestRecord.id) == request_id)
    )
    row = found.first()
    if row is None or row[1] != user.org_id:
        raise not_found("request")
    return RequestRef(*row)


async def participants(session: AsyncSession, request: RequestRef) -> set[str]:
    """The requester and everyone who is or was an approver of any level."""
    levels = await session.exec(
        select(RequestLevelRecord.approvers).where(col(RequestLevelRecord.request_id) == request.id)
    )
    people = {request.requester}
    for approvers in levels:
        people.update(approvers)
    return people


async def require_participant(session: AsyncSession, request: RequestRef, user: Principal) -> None:
    """403 unless the caller takes part in the request or is MANAGEMENT/ADMIN."""
    if user.is_manager or user.user_id == request.requester:
        return
    if user.user_id not in await participants(session, request):
        raise forbidden("only the request's participants, MANAGEMENT and ADMIN may do this")


async def require_org_users(session: AsyncSession, org_id: str, user_ids: list[str]) -> None:
    """422 unless every id is an active user of the org."""
    found = await session.exec(
        select(User.id).where(
            col(User.org_id) == org_id, col(User.id).in_(user_ids), col(User.active).is_(True)
        )
    )
    missing = sorted(set(user_ids) - set(found))
    if missing:
        raise Problem(422, f"not active users of this org: {', '.join(missing)}")
