"""Where each kind of encrypted secret lives and the context its ciphertext is bound to.

The context (e.g. "mailboxes.secret:mbx-1") is the AES-GCM associated data: a ciphertext copied
to another row or column does not decrypt. Every writer, reader and `signoff secrets rotate`
takes it from here, so the three cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SecretColumn:
    """One encrypted column: its table, the column keying a row, and the secret's column."""

    table: str
    id_column: str
    secret_column: str

    @property
    def context_prefix(self) -> str:
        """The context's fixed part, e.g. "mailboxes.secret"."""
        return f"{self.table}.{self.secret_column}"

    def context(self, row_id: object) -> str:
        """The associated data of one row's secret, e.g. "mailboxes.secret:mbx-1"."""
        return f"{self.context_prefix}:{row_id}"


MAILBOX_SECRET = SecretColumn("mailboxes", "id", "secret")
WEBHOOK_SECRET = SecretColumn("webhooks", "id", "secret")
TOTP_SECRET = SecretColumn("users", "id", "totp_secret")
PENDING_TOTP_SECRET = SecretColumn("users", "id", "totp_pending_secret")
ERP_CONNECTION_SECRET = SecretColumn("erp_connections", "org_id", "secret")

# Every encrypted column, as `signoff secrets rotate` walks them.
SECRET_COLUMNS = (
    MAILBOX_SECRET,
    WEBHOOK_SECRET,
    TOTP_SECRET,
    PENDING_TOTP_SECRET,
    ERP_CONNECTION_SECRET,
)
