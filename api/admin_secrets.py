"""The secrets an ADMIN sets on a mailbox, a webhook or the org's ERP connection: sealed under
the row's key, and the change recorded as a security event that says who and when, never what."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from api.admin_audit import record_admin_event
from api.deps import AppContext, Principal
from store.erp_tables import ErpConnection
from store.invoice_tables import Mailbox
from store.secret_columns import (
    ERP_CONNECTION_SECRET,
    MAILBOX_SECRET,
    WEBHOOK_SECRET,
    SecretColumn,
)
from store.tables import Webhook

SecretRow = Mailbox | Webhook | ErpConnection


# What events call each row's secret, and where it is stored (an ERP connection is keyed by
# its org: one per org).
_COLUMNS: dict[type[SecretRow], tuple[str, SecretColumn]] = {
    Mailbox: ("mailbox", MAILBOX_SECRET),
    Webhook: ("webhook", WEBHOOK_SECRET),
    ErpConnection: ("erp_connection", ERP_CONNECTION_SECRET),
}


def secret_owner(row: SecretRow) -> tuple[str, str]:
    """What events call the row's secret, and the row key its ciphertext is bound to."""
    owner, column = _COLUMNS[type(row)]
    return owner, str(getattr(row, column.id_column))


def seal_admin_secret(
    context: AppContext,
    session: AsyncSession,
    admin: Principal,
    ip: str | None,
    row: SecretRow,
    secret: str,
    action: str,
) -> None:
    """Set the row's secret, encrypted under its key, and record a `secret_changed` event."""
    _, key = secret_owner(row)
    row.secret = context.secret_box.encrypt(secret, context=_COLUMNS[type(row)][1].context(key))
    record_secret_change(session, admin, ip, row, action)


def record_secret_change(
    session: AsyncSession, admin: Principal, ip: str | None, row: SecretRow, action: str
) -> None:
    """Record a `secret_changed` event about the row's secret (set, changed, deleted)."""
    owner, key = secret_owner(row)
    record_admin_event(
        session,
        admin,
        "secret_changed",
        ip=ip,
        subject=f"{owner}:{key}",
        detail={"secret": owner, "action": action},
    )
