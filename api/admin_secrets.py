"""The secrets an ADMIN sets on a mailbox or a webhook: sealed under the row's id, and the
change recorded as a security event that says who and when, never what."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from api.admin_audit import record_admin_event
from api.deps import AppContext, Principal
from store.invoice_tables import Mailbox
from store.tables import Webhook


def seal_admin_secret(
    context: AppContext,
    session: AsyncSession,
    admin: Principal,
    ip: str | None,
    row: Mailbox | Webhook,
    secret: str,
    action: str,
) -> None:
    """Set the row's secret, encrypted under its id, and record a `secret_changed` event."""
    owner = "mailbox" if isinstance(row, Mailbox) else "webhook"
    # The context names the table and row, as store.secret_rotation.SECRET_COLUMNS does.
    row.secret = context.secret_box.encrypt(secret, context=f"{row.__tablename__}.secret:{row.id}")
    record_admin_event(
        session,
        admin,
        "secret_changed",
        ip=ip,
        subject=f"{owner}:{row.id}",
        detail={"secret": owner, "action": action},
    )
