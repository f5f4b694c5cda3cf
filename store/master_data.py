"""Reads of master data that starting a request needs: the template version and the calendar.

The queries are built here once and run by sync callers (CLI, activities) and async ones
(the API) alike.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from schemas.calendar import OrgCalendar
from schemas.template import TemplateSnapshot
from store.tables import Org, Template


class NotFound(LookupError):
    """Master data that does not exist (or belongs to another org)."""


def template_query(org_id: str, key: str, version: int | None = None) -> SelectOfScalar[Template]:
    """The version a new request may start from: the latest, or exactly `version`, of a
    template that is not deleted."""
    query = select(Template).where(
        col(Template.org_id) == org_id,
        col(Template.key) == key,
        col(Template.deleted_at).is_(None),
    )
    if version is not None:
        query = query.where(col(Template.version) == version)
    return query.order_by(col(Template.version).desc()).limit(1)


def template_snapshot(row: Template | None, key: str, version: int | None) -> TemplateSnapshot:
    """The snapshot a request freezes, or NotFound."""
    if row is None:
        raise NotFound(f"template {key!r}" + (f" version {version}" if version else ""))
    body: dict[str, Any] = row.body | {"key": row.key, "version": row.version}
    return TemplateSnapshot.model_validate(body)


def org_calendar(org: Org | None, org_id: str) -> OrgCalendar:
    """The org's business calendar, or NotFound."""
    if org is None:
        raise NotFound(f"org {org_id!r}")
    return OrgCalendar.model_validate(org.calendar)


def load_template(
    session: Session, org_id: str, key: str, version: int | None = None
) -> TemplateSnapshot:
    """A template version of the org (sync callers)."""
    row = session.exec(template_query(org_id, key, version)).first()
    return template_snapshot(row, key, version)


def load_org_calendar(session: Session, org_id: str) -> OrgCalendar:
    """The org's business calendar (sync callers)."""
    return org_calendar(session.get(Org, org_id), org_id)
