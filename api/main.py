"""The FastAPI application: its lifespan (DB engine, Temporal client, object store) and routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import APIRouter, Depends, FastAPI
from starlette.concurrency import run_in_threadpool
from temporalio.client import Client

from api.deps import AppContext
from api.notification_hub import NotificationHub
from api.observability import RequestContextMiddleware, configure_json_logging
from api.problems import document_problems, install_problem_handlers
from api.rate_limits import limit_requests, make_rate_limiter
from api.routes import (
    actions,
    audit,
    auth,
    customers,
    decisions,
    documents,
    erp_connection,
    health,
    invoice_reports,
    invoices,
    mailboxes,
    mfa,
    notifications,
    org_settings,
    purchase_orders,
    request_reports,
    requests,
    suppliers,
    templates,
    users,
    webhooks,
)
from api.security import TokenService
from clients.temporal import connect_temporal
from config.secret_key import secret_key
from config.settings import Settings
from store.async_db import make_async_engine
from store.objects import S3ObjectStore, make_object_store
from store.secret_box import secret_box
from telemetry.read_model_metrics import ReadModelMetricsMiddleware, register_read_model_metrics
from telemetry.tracing import API_SERVICE, flush_tracing, install_tracing

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"


def create_app(settings: Settings, temporal: Client | None = None) -> FastAPI:
    """The API; pass a Temporal client to share one (tests), else the lifespan makes one."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_async_engine(settings.resolved_database_url())
        client = temporal or await connect_temporal(settings, lazy=True)
        key = secret_key(settings)
        box = secret_box(settings)  # a malformed key ring stops the start here, saying why
        objects = make_object_store(settings, key)
        if isinstance(objects, S3ObjectStore):
            try:
                await run_in_threadpool(objects.ensure_bucket)
            except Exception:  # readiness reports it; the API still serves what it can
                log.exception("the S3 bucket %s cannot be reached", settings.s3_bucket)
        hub = NotificationHub(engine, settings.sse_poll_seconds)
        app.state.rate_limiter = make_rate_limiter(settings, engine)
        await hub.start()
        app.state.context = AppContext(
            settings=settings,
            engine=engine,
            temporal=client,
            tokens=TokenService(settings, key),
            objects=objects,
            hub=hub,
            secret_box=box,
        )
        yield
        await hub.stop()
        await app.state.rate_limiter.close()
        await engine.dispose()
        flush_tracing()

    app = FastAPI(
        title="Signoff API",
        version="1.0",
        description=(
            "Durable approvals on Temporal. Errors are RFC 9457 problem details; every list is "
            "paginated and scoped to the caller's org; another org's id answers 404."
        ),
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    document_problems(app)
    app.add_middleware(RequestContextMiddleware)
    register_read_model_metrics()
    app.add_middleware(ReadModelMetricsMiddleware)
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(limit_requests)])
    routers = (
        auth,
        mfa,
        users,
        org_settings,
        erp_connection,
        templates,
        requests,
        decisions,
        documents,
        notifications,
        webhooks,
        invoices,
        mailboxes,
        invoice_reports,
        request_reports,
        audit,
        suppliers,
        customers,
        purchase_orders,
    )
    for module in routers:
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(documents.files_router)
    app.include_router(actions.router)
    app.include_router(health.router)
    return app


def serve(settings: Settings) -> None:
    """Run the API with uvicorn until SIGINT/SIGTERM."""
    configure_json_logging()
    # FastAPI makes each request's server span itself once a tracer provider is installed.
    install_tracing(settings, API_SERVICE)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
    uvicorn.Server(config).run()
