"""Record the InvoiceWorkflow and MailboxPollerWorkflow histories the replay tests check:
`python -m tests.histories.record_invoices` (only to add a scenario on purpose)."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config.settings import Settings
from devstack.temporal import installed_binary, register_search_attributes
from schemas.intake import MailboxPollerInput
from schemas.invoice import InvoiceOverride, InvoiceStatus
from store.db import make_engine, transaction
from store.invoice_tables import Mailbox
from store.migrate import upgrade
from tests.invoicing.ap_world import WIDGETS, add_receipt, seed_ap_world
from tests.invoicing.einvoices import ubl_invoice
from tests.invoicing.flow import (
    approve_child,
    start_invoice_document,
    until_approval,
    until_state,
    widget_invoice,
)
from workers.approval_worker import build_worker
from workflows.mailbox_poller import MailboxPollerWorkflow

HERE = Path(__file__).parent


async def record(folder: Path = HERE) -> list[Path]:
    """Posted, parked-overridden-posted, failed at its time limit, and an unreachable mailbox."""
    binary = installed_binary("temporal-test-server")
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter, test_server_existing_path=binary
    )
    scratch = Path(tempfile.mkdtemp(prefix="signoff-record-"))
    url = f"sqlite:///{scratch / 'record.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(database_url=url, data_dir=scratch, worker_activity_threads=4)
    queue = f"record-{uuid.uuid4()}"
    written: list[Path] = []

    def save(name: str, history_json: str) -> None:
        path = folder / f"{name}.json"
        path.write_text(history_json)
        written.append(path)

    try:
        await register_search_attributes(env.client, "default")
        with ThreadPoolExecutor(4) as pool:
            async with build_worker(env.client, settings, engine, pool, queue):
                client = env.client
                world = seed_ap_world(engine)
                posted = await start_invoice_document(
                    client, settings, queue, world, widget_invoice("R-1")
                )
                state = await until_approval(posted)
                await approve_child(client, state, world)
                await posted.result()
                save("invoice_posted", (await posted.fetch_history()).to_json())

                short = seed_ap_world(engine, received=[Decimal(10), Decimal(60)])
                parked = await start_invoice_document(
                    client, settings, queue, short, widget_invoice("R-2")
                )
                await until_state(parked, lambda s: s.status is InvoiceStatus.NEEDS_REVIEW)
                with transaction(engine) as session:
                    add_receipt(session, short, [Decimal(0), Decimal(40)])
                await parked.execute_update(
                    "override",
                    InvoiceOverride(actor=short.clerk, reason="bolts came", continue_at="validate"),
                )
                state = await until_approval(parked)
                await approve_child(client, state, short)
                await parked.result()
                save("invoice_overridden", (await parked.fetch_history()).to_json())

                unknown = ubl_invoice(
                    number="R-3",
                    supplier="Nobody Ltd",
                    customer="Globex",
                    lines=WIDGETS,
                    vat_id="FR0",
                )
                failed = await start_invoice_document(client, settings, queue, world, unknown)
                await until_state(failed, lambda s: s.status is InvoiceStatus.NEEDS_REVIEW)
                await env.sleep(timedelta(days=10, hours=1))
                await failed.result()
                save("invoice_failed", (await failed.fetch_history()).to_json())

                now = datetime.now(UTC)
                with transaction(engine) as session:
                    session.add(
                        Mailbox(
                            id="mbx-unreachable",
                            org_id=world.org_id,
                            name="AP",
                            host="127.0.0.1",
                            port=9,
                            tls=False,
                            username="ap",
                            secret="x",
                            poll_seconds=60,
                            rules={},
                            created_at=now,
                            updated_at=now,
                        )
                    )
                poller = await client.start_workflow(
                    MailboxPollerWorkflow.run,
                    MailboxPollerInput(mailbox_id="mbx-unreachable"),
                    id=f"poller-{uuid.uuid4()}",
                    task_queue=queue,
                )
                assert (await poller.result()).error
                save("mailbox_poller_unreachable", (await poller.fetch_history()).to_json())
    finally:
        engine.dispose()
        await env.shutdown()
    return written


if __name__ == "__main__":
    for path in asyncio.run(record()):
        print(f"wrote {path}")
