"""The approval worker: ApprovalWorkflow plus its SQL activities on one task queue."""

from __future__ import annotations

import compileall
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine
from temporalio.client import Client
from temporalio.worker import Worker

import workflows
from activities.directory import DirectoryActivities
from activities.intake import MailboxIntakeActivities
from activities.invoice_records import InvoiceRecordActivities
from activities.invoice_steps import InvoiceStepActivities
from activities.notifications import NotificationActivities
from activities.read_model import ReadModelActivities
from activities.replies import ReplyMailboxActivities
from activities.webhooks import WebhookActivities
from clients.mail import Mailer, make_mailer
from clients.temporal import connect_temporal
from clients.webhook_sender import WebhookSender
from config.secret_key import secret_key
from config.settings import Settings
from erp.adapter import load_erp_adapter
from store.db import make_engine
from store.objects import make_object_store
from store.secret_box import secret_box
from telemetry.tracing import (
    WORKER_SERVICE,
    install_tracing,
    shutdown_tracing,
    worker_tracing_interceptors,
)
from telemetry.worker_metrics import prometheus_runtime
from workers.schedules import ensure_mailbox_schedules, ensure_reply_schedule
from workers.serving import STOP_MARGIN_SECONDS, serve_until_signalled
from workflows.approval import ApprovalWorkflow
from workflows.invoice import InvoiceWorkflow
from workflows.mailbox_poller import MailboxPollerWorkflow
from workflows.reply_poller import ReplyPollerWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

log = logging.getLogger(__name__)


def precompile_workflows() -> None:
    """Write bytecode for the workflow modules.

    The sandbox imports a workflow's module afresh for every workflow it starts; without a
    .pyc (PYTHONDONTWRITEBYTECODE, a fresh checkout) each start compiles the source again.
    """
    folder = Path(workflows.__file__).parent
    compileall.compile_dir(folder, quiet=2, workers=1)


def build_worker(
    client: Client,
    settings: Settings,
    engine: Engine,
    executor: ThreadPoolExecutor,
    task_queue: str | None = None,
    *,
    http: httpx.AsyncClient | None = None,
    mailer: Mailer | None = None,
) -> Worker:
    """A worker with every workflow and activity of Signoff, tuned from settings."""
    precompile_workflows()
    queue = task_queue or settings.task_queue
    read_model = ReadModelActivities(engine)
    directory = DirectoryActivities(engine)
    chosen_mailer = mailer or make_mailer(settings)
    box = secret_box(settings)  # one key ring for every activity that opens a stored secret
    sender = WebhookSender(engine, settings, http or httpx.AsyncClient(), box)
    notifications = NotificationActivities(
        engine, settings, chosen_mailer, sender, client, secret_key(settings), queue
    )
    webhooks = WebhookActivities(engine, sender)
    replies = ReplyMailboxActivities(engine, settings, client, chosen_mailer)
    objects = make_object_store(settings, secret_key(settings))
    erp = load_erp_adapter(settings, engine)
    invoice_steps = InvoiceStepActivities(engine, objects, erp, settings)
    invoice_records = InvoiceRecordActivities(engine, chosen_mailer, settings)
    intake = MailboxIntakeActivities(engine, objects, erp, client, settings, queue, box)
    return Worker(
        client,
        task_queue=queue,
        workflows=[
            ApprovalWorkflow,
            WebhookDeliveryWorkflow,
            ReplyPollerWorkflow,
            InvoiceWorkflow,
            MailboxPollerWorkflow,
        ],
        activities=[
            invoice_steps.extract_invoice_fields,
            invoice_steps.validate_invoice,
            invoice_steps.post_invoice_to_erp,
            invoice_records.record_invoice_state,
            invoice_records.prepare_invoice_approval,
            invoice_records.notify_invoice_review,
            intake.poll_invoice_mailbox,
            read_model.record_request_progress,
            directory.resolve_approvers,
            notifications.deliver_notifications,
            webhooks.send_webhook,
            webhooks.record_dead_letter,
            replies.process_reply_mailbox,
        ],
        activity_executor=executor,
        interceptors=worker_tracing_interceptors(client, settings),
        max_cached_workflows=settings.worker_sticky_cache_size,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        max_concurrent_activities=settings.worker_activity_threads,
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_graceful_shutdown_seconds),
    )


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then finish running activities and stop."""
    tracer_provider = install_tracing(settings, WORKER_SERVICE)
    # The SDK's metrics belong to the runtime its client is made with.
    client = await connect_temporal(settings, runtime=prometheus_runtime(settings))
    engine = make_engine(settings.resolved_database_url())
    async with httpx.AsyncClient() as http:
        with ThreadPoolExecutor(max_workers=settings.worker_activity_threads) as executor:
            worker = build_worker(client, settings, engine, executor, http=http)
            await ensure_reply_schedule(client, settings, settings.task_queue)
            polled = await ensure_mailbox_schedules(client, engine, settings.task_queue)
            log.info("%d AP mailbox(es) polled by their Schedules", polled)
            log.info(
                "worker polling task queue %s on %s (namespace %s)",
                settings.task_queue,
                settings.temporal_address,
                settings.temporal_namespace,
            )
            stop_within = settings.worker_graceful_shutdown_seconds + STOP_MARGIN_SECONDS
            await serve_until_signalled(worker, stop_within)
    engine.dispose()
    shutdown_tracing(tracer_provider)
    log.info("worker stopped")
