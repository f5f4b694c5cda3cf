"""Alembic environment: migrates the URL passed in by store.migrate (never read from a file)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import store.erp_tables  # noqa: F401  (each import registers its tables on SQLModel.metadata)
import store.invoice_tables  # noqa: F401
import store.rate_limit_counters  # noqa: F401
import store.security_events  # noqa: F401
import store.tables  # noqa: F401
from store.db import make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("store.migrate passes sqlalchemy.url; none was given")

if context.is_offline_mode():
    context.configure(url=url, target_metadata=SQLModel.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = make_engine(url)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()
