"""Issue 5's benchmark: field accuracy of the extraction, and AP intake throughput.

Accuracy comes from bench/invoice_accuracy.py on the shared invoice2data set. Intake: N mails
(each a small UBL invoice from billing@acme.test) are appended to a real dovecot before timing;
then the `signoff worker` process takes them in the way production does (the mailbox's Schedule,
triggered with poll_now: batch after batch of FETCH, parse, screen, SQL claims, object store,
workflow start, intake log, flag). Timed from the trigger until the intake log holds N accepted
mails (each logged only after its workflow started); Temporal visibility then confirms N
InvoiceWorkflows of the org and no duplicates. Side by side, the raw cost of the same starts:
N start_invoice calls with the batch's concurrency from this process on the same server, no
IMAP/SQL/object store (and no worker running). One JSON line.

    .venv/bin/python bench/invoices.py [--mails 500] [--batch-sizes 50,100] [--skip-accuracy]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, func  # noqa: E402
from sqlmodel import Session, col, select  # noqa: E402
from temporalio.api.enums.v1 import TaskQueueType  # noqa: E402
from temporalio.api.taskqueue.v1 import TaskQueue  # noqa: E402
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest  # noqa: E402
from temporalio.client import Client  # noqa: E402

from bench.invoice_accuracy import DEFAULT_FOLDER, measure_accuracy  # noqa: E402
from clients.invoices import invoice_policy, start_invoice  # noqa: E402
from clients.mailbox_schedules import poll_now, put_mailbox_schedule  # noqa: E402
from config.settings import Settings  # noqa: E402
from devstack.temporal import installed_binary, start_throwaway_server  # noqa: E402
from schemas.intake import ScreeningRules  # noqa: E402
from schemas.invoice import DocumentRef, InvoiceInput  # noqa: E402
from store.db import make_engine, transaction  # noqa: E402
from store.invoice_tables import IntakeEntry, Mailbox  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from tests.api.imap_server import Dovecot, start_dovecot  # noqa: E402
from tests.intake.mails import invoice_mail  # noqa: E402
from tests.invoicing.ap_world import WIDGETS, seed_ap_world  # noqa: E402
from tests.invoicing.einvoices import ubl_invoice  # noqa: E402

TARGET_PER_S = 20.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def mail(n: int) -> bytes:
    """Invoice mail number n: its own Message-ID and invoice number, one UBL XML attached."""
    xml = ubl_invoice(
        number=f"B-{n:05d}", supplier="Acme Supplies GmbH", customer="Globex", lines=WIDGETS
    )
    return invoice_mail(
        subject=f"Invoice B-{n:05d}", attachments=[("invoice.xml", xml, "application/xml")]
    )


def append_mails(dovecot: Dovecot, folder: str, count: int) -> None:
    """Create the folder and append `count` distinct invoice mails (not timed)."""
    imap = dovecot.connect()
    try:
        imap.create_folder(folder)
        for n in range(count):
            imap.append(folder, mail(n))
    finally:
        imap.logout()


def add_mailbox(engine: Engine, org_id: str, dovecot: Dovecot, folder: str) -> str:
    """The org's AP mailbox on the dovecot folder, polled hourly (the bench triggers it)."""
    now = datetime.now(UTC)
    mailbox = Mailbox(
        id=f"mbx-bench-{folder}",
        org_id=org_id,
        name="AP bench",
        host=dovecot.host,
        port=dovecot.port,
        tls=False,
        username=dovecot.username,
        secret=dovecot.password,
        folder=folder,
        poll_seconds=3600,
        rules=ScreeningRules().model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    with transaction(engine) as session:
        session.add(mailbox)
    return f"mbx-bench-{folder}"


async def raw_starts(client: Client, count: int, concurrency: int, org_id: str) -> float:
    """Seconds for `count` InvoiceWorkflow starts, `concurrency` at a time, on an unpolled queue."""
    xml = b"<Invoice/>"
    ref = DocumentRef(
        key="requests/raw/documents/invoice.xml",
        filename="invoice.xml",
        content_type="application/xml",
        size=len(xml),
        sha256=hashlib.sha256(xml).hexdigest(),
        role="xml",
    )
    policy = invoice_policy(Settings())
    inputs = [
        InvoiceInput(
            invoice_id=f"inv-raw-{org_id}-{n}",
            org_id=org_id,
            source="email",
            submitted_by="mbx-raw",
            sender="billing@acme.test",
            subject=f"Invoice B-{n:05d}",
            documents=[ref],
            policy=policy,
        )
        for n in range(count)
    ]
    started = time.perf_counter()
    for at in range(0, count, concurrency):
        await asyncio.gather(
            *(start_invoice(client, "bench-raw-unpolled", i) for i in inputs[at : at + concurrency])
        )
    return time.perf_counter() - started


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """utime + stime of a process (plus its reaped children's), from /proc; 0 when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11 : 15 if reaped else 13]) / CLOCK_TICKS


def machine_busy() -> tuple[float, float]:
    """Busy and total CPU seconds of the whole machine since boot (/proc/stat)."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / CLOCK_TICKS, sum(ticks) / CLOCK_TICKS


def children_cpu(skip: int = 0) -> dict[str, float]:
    """CPU seconds of this process's descendants (Temporal dev server, dovecot...) by name."""
    parents: dict[int, tuple[int, str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        parents[int(stat.parent.name)] = (int(text.rsplit(")", 1)[1].split()[1]), name)
    found: dict[str, float] = {}
    for pid, (_, name) in parents.items():
        ancestor = pid
        while ancestor in parents and ancestor != os.getpid():
            ancestor = parents[ancestor][0]
        if ancestor == os.getpid() and pid not in (os.getpid(), skip):
            found[name] = found.get(name, 0.0) + cpu_seconds(pid, reaped=True)
    return found


def intake_counts(engine: Engine, mailbox_id: str) -> tuple[int, int, int]:
    """Accepted rows, rejected rows, distinct invoice ids of accepted rows."""
    with Session(engine) as session:
        rows = session.exec(
            select(
                IntakeEntry.outcome,
                func.count(),
                func.count(col(IntakeEntry.invoice_id).distinct()),
            )
            .where(col(IntakeEntry.mailbox_id) == mailbox_id)
            .group_by(col(IntakeEntry.outcome))
        ).all()
    by = {outcome: (n, distinct) for outcome, n, distinct in rows}
    accepted, distinct = by.get("accepted", (0, 0))
    return accepted, by.get("rejected", (0, 0))[0], distinct


async def wait_for_poller(client: Client, queue: str, seconds: float = 120) -> None:
    """Until a worker polls the queue for workflow tasks."""
    deadline = time.monotonic() + seconds
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    while time.monotonic() < deadline:
        if (await client.workflow_service.describe_task_queue(request)).pollers:
            return
        await asyncio.sleep(0.25)
    raise TimeoutError(f"no worker polled {queue} within {seconds}s")


async def visible_invoices(client: Client, org_id: str, seconds: float = 60) -> int:
    """InvoiceWorkflows of the org in visibility, polled until the count is stable."""
    query = f'WorkflowType = "InvoiceWorkflow" AND SignoffOrg = "{org_id}"'
    counts: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        counts.append((await client.count_workflows(query)).count)
        if len(counts) >= 4 and len(set(counts[-4:])) == 1:
            break
        await asyncio.sleep(0.5)
    listed = {wf.id async for wf in client.list_workflows(query)}
    return max(counts[-1], len(listed))


async def quiet_server(scratch: Path) -> Any:
    """A throwaway dev server whose banner and log go to a file, not to our one JSON line."""
    saved = os.dup(1), os.dup(2)
    with (scratch / "temporal.log").open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            return await start_throwaway_server("--db-filename", str(scratch / "temporal.db"))
        finally:
            for fd, copy in zip((1, 2), saved, strict=True):
                os.dup2(copy, fd)
                os.close(copy)


async def intake_run(dovecot: Dovecot, scratch: Path, mails: int, batch: int) -> dict[str, Any]:
    """One throughput measurement at one batch size, on a fresh Temporal server and database."""
    scratch.mkdir(parents=True)
    env = await quiet_server(scratch)
    worker: subprocess.Popen[bytes] | None = None
    try:
        url = f"sqlite:///{scratch / 'signoff.db'}"
        upgrade(url)
        engine = make_engine(url)
        world = seed_ap_world(engine)
        folder = f"bench-b{batch}"
        append_mails(dovecot, folder, mails)
        mailbox_id = add_mailbox(engine, world.org_id, dovecot, folder)
        raw_s = await raw_starts(env.client, mails, batch, f"raw-{world.org_id}")
        queue = f"invoice-bench-{batch}"
        signoff = installed_binary("signoff")
        assert signoff, "the signoff command is not installed"
        environment = os.environ | {
            "SIGNOFF_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "SIGNOFF_DATABASE_URL": url,
            "SIGNOFF_DATA_DIR": str(scratch),
            "SIGNOFF_OBJECTS_DIR": str(scratch / "objects"),
            "SIGNOFF_TASK_QUEUE": queue,
            "SIGNOFF_INTAKE_BATCH_SIZE": str(batch),
        }
        worker = subprocess.Popen(
            [signoff, "worker"],
            env=environment,
            stdout=(scratch / "worker.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        await wait_for_poller(env.client, queue)
        await put_mailbox_schedule(env.client, mailbox_id, 3600, queue)  # as the API does
        cpu_before, others_before = cpu_seconds(worker.pid), children_cpu(worker.pid)
        busy_before, total_before = machine_busy()
        started = time.perf_counter()
        await poll_now(env.client, mailbox_id)
        accepted = rejected = distinct = 0
        last_trigger = started
        while time.perf_counter() - started < 900:
            accepted, rejected, distinct = await asyncio.to_thread(
                intake_counts, engine, mailbox_id
            )
            if accepted + rejected >= mails:
                break
            if time.perf_counter() - last_trigger > 2:
                # A pass is at most 20 batches; production's next pass comes with the
                # interval, here at once (a pass still running makes this a no-op).
                await poll_now(env.client, mailbox_id)
                last_trigger = time.perf_counter()
            await asyncio.sleep(0.1)
        intake_s = time.perf_counter() - started
        worker_cpu = cpu_seconds(worker.pid) - cpu_before
        busy, total = machine_busy()
        others = {
            k: round(v - others_before.get(k, 0.0), 1) for k, v in children_cpu(worker.pid).items()
        }
        visible = await visible_invoices(env.client, world.org_id)
        rate = accepted / intake_s
        raw_rate = mails / raw_s
        return {
            "batch_size": batch,
            "mails": mails,
            "accepted": accepted,
            "rejected": rejected,
            "intake_seconds": round(intake_s, 2),
            "intake_mails_per_s": round(rate, 1),
            "raw_starts_seconds": round(raw_s, 2),
            "raw_starts_per_s": round(raw_rate, 1),
            "intake_to_raw_ratio": round(rate / raw_rate, 3),
            "distinct_invoice_ids": distinct,
            "workflows_visible": visible,
            "duplicates": (accepted - distinct) + max(0, visible - distinct),
            "worker_cpu_s": round(worker_cpu, 1),
            "worker_cpu_share": round(worker_cpu / intake_s, 2),
            "other_cpu_s": {k: v for k, v in others.items() if v >= 0.1},
            "machine_busy_share": round((busy - busy_before) / (total - total_before), 2),
            "load_average": round(os.getloadavg()[0], 1),
            "meets_target": rate >= TARGET_PER_S,
        }
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        await env.shutdown()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Accuracy (unless skipped), then one intake run per batch size against one dovecot."""
    result: dict[str, Any] = {"benchmark": "invoices", "cpus": os.cpu_count()}
    if not args.skip_accuracy:
        result["accuracy"] = await asyncio.to_thread(measure_accuracy, args.folder)
    scratch = Path(tempfile.mkdtemp(prefix="signoff-invoice-bench-"))
    # start_dovecot opens its own folder to dovecot's users: a mkdtemp of its own, not a child.
    mail_dir = Path(tempfile.mkdtemp(prefix="signoff-invoice-bench-imap-"))
    dovecot = start_dovecot(mail_dir)
    runs = []
    try:
        for batch in args.batch_sizes or [Settings().intake_batch_size]:
            runs.append(await intake_run(dovecot, scratch / f"b{batch}", args.mails, batch))
    finally:
        dovecot.stop()
        shutil.rmtree(mail_dir, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    result["intake"] = runs
    result["target"] = f"{TARGET_PER_S:g} mails/s, 0 duplicates"
    return result


def run() -> None:
    """Parse arguments, run, print one JSON line, exit without interpreter teardown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=500)
    parser.add_argument(
        "--batch-sizes", type=lambda s: [int(b) for b in s.split(",") if b.strip()], default=[]
    )
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs)")
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
    os._exit(0)  # the Temporal client's threads can abort CPython's teardown (sdk-python#300)


if __name__ == "__main__":
    run()
