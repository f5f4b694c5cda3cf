"""Activities that read the user directory (master data) for a workflow."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio import activity

from schemas.projection import ResolveApproversInput, ResolveApproversOutput
from store.tables import User


class DirectoryActivities:
    """Look-ups of users and roles."""

    def __init__(self, engine: Engine) -> None:
        """Use this engine for every read."""
        self.engine = engine

    @activity.defn(name="resolve_approvers")
    def resolve_approvers(self, request: ResolveApproversInput) -> ResolveApproversOutput:
        """The active members of each role in the org, so a request freezes its approvers."""
        with Session(self.engine) as session:
            users = session.exec(
                select(User).where(col(User.org_id) == request.org_id, col(User.active))
            ).all()
        members = {
            role: sorted(u.id for u in users if role in (u.roles or [])) for role in request.roles
        }
        return ResolveApproversOutput(members=members)
