"""An org's ERP credentials, opened in the process that uses them.

A workflow passes only the org's id; the ERP adapter plugin calls `load_erp_credentials` inside
its activity, so the secret never enters a workflow's history, and is decrypted only there.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from config.settings import Settings
from store.erp_tables import ErpConnection
from store.secret_box import secret_box
from store.secret_columns import ERP_CONNECTION_SECRET


@dataclass(frozen=True)
class ErpCredentials:
    """Where an org's ERP is and how to log in to it."""

    adapter: str
    base_url: str
    username: str | None
    secret: str

    def __repr__(self) -> str:  # never show the secret, not even in a traceback or a log line
        return (
            f"ErpCredentials(adapter={self.adapter!r}, base_url={self.base_url!r}, "
            f"username={self.username!r}, secret='***')"
        )


def load_erp_credentials(engine: Engine, settings: Settings, org_id: str) -> ErpCredentials | None:
    """The org's ERP connection with its secret decrypted; None when it has none."""
    with Session(engine) as session:
        row = session.get(ErpConnection, org_id)
    if row is None:
        return None
    secret = secret_box(settings).decrypt(row.secret, context=ERP_CONNECTION_SECRET.context(org_id))
    return ErpCredentials(row.adapter, row.base_url, row.username, secret)
