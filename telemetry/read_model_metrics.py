"""Gauges of the SQL read model for the API's /metrics: requests by template, status and SLA
state, breached approval levels by template, invoices by status.

Counted at scrape time with the API's async engine, at most once per `ttl` seconds however many
Prometheus servers scrape, so a scrape costs three GROUP BY queries at worst and the event loop
never blocks on SQL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from starlette.types import ASGIApp, Receive, Scope, Send

from store.invoice_tables import InvoiceRecord
from store.tables import RequestLevelRecord, RequestRecord

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"


@dataclass
class _Counts:
    requests: list[tuple[str, str, str, int]] = field(default_factory=list)
    breached_levels: list[tuple[str, int]] = field(default_factory=list)
    invoices: list[tuple[str, int]] = field(default_factory=list)
    up: bool = False


async def _count(engine: AsyncEngine) -> _Counts:
    requests = select(
        RequestRecord.template_key, RequestRecord.status, RequestRecord.sla_state, func.count()
    ).group_by(
        col(RequestRecord.template_key), col(RequestRecord.status), col(RequestRecord.sla_state)
    )
    breached = (
        select(RequestRecord.template_key, func.count())
        .join(RequestLevelRecord, col(RequestLevelRecord.request_id) == col(RequestRecord.id))
        .where(col(RequestLevelRecord.breached))
        .group_by(col(RequestRecord.template_key))
    )
    invoices = select(InvoiceRecord.status, func.count()).group_by(col(InvoiceRecord.status))
    async with engine.connect() as connection:
        return _Counts(
            requests=[(t, s, sla, n) for t, s, sla, n in await connection.execute(requests)],
            breached_levels=[(t, n) for t, n in await connection.execute(breached)],
            invoices=[(s, n) for s, n in await connection.execute(invoices)],
            up=True,
        )


class ReadModelCollector(Collector):
    """Serves the last counts; `refresh` recounts them when they are older than `ttl` seconds."""

    def __init__(self, ttl: float = 5.0) -> None:
        """Start with nothing counted."""
        self.ttl = ttl
        self._counts = _Counts()
        self._counted_at = float("-inf")

    async def refresh(self, engine: AsyncEngine) -> None:
        """Recount from SQL unless the counts are fresh; a failure is exported as up=0."""
        if time.monotonic() - self._counted_at < self.ttl:
            return
        self._counted_at = time.monotonic()
        try:
            self._counts = await _count(engine)
        except Exception as error:  # /metrics keeps answering (up=0) while the database is down
            # One line, not a traceback: it repeats on every scrape until the database is back.
            log.warning("counting the read model for /metrics failed: %s", str(error)[:300])
            self._counts = _Counts()

    def describe(self) -> Iterable[Metric]:
        """The families, without querying (the registry calls this when registering)."""
        return self._families(_Counts())

    def collect(self) -> Iterable[Metric]:
        """The last counts."""
        return self._families(self._counts)

    @staticmethod
    def _families(counts: _Counts) -> list[Metric]:
        requests = GaugeMetricFamily(
            "signoff_requests",
            "Requests in the read model by template, status and SLA state.",
            labels=["template", "status", "sla"],
        )
        for template, status, sla, count in counts.requests:
            requests.add_metric([template, status, sla], count)
        breached = GaugeMetricFamily(
            "signoff_request_levels_breached",
            "Approval levels whose TAT was breached, by template.",
            labels=["template"],
        )
        for template, count in counts.breached_levels:
            breached.add_metric([template], count)
        invoices = GaugeMetricFamily(
            "signoff_invoices", "Invoices in the read model by status.", labels=["status"]
        )
        for status, count in counts.invoices:
            invoices.add_metric([status], count)
        up = GaugeMetricFamily(
            "signoff_read_model_up", "1 when the last count of the read model succeeded."
        )
        up.add_metric([], 1 if counts.up else 0)
        return [requests, breached, invoices, up]


READ_MODEL_METRICS = ReadModelCollector()
_registered = False


def register_read_model_metrics() -> None:
    """Add the read-model gauges to the process's registry (once, however many apps exist)."""
    global _registered
    if not _registered:
        REGISTRY.register(READ_MODEL_METRICS)
        _registered = True


class ReadModelMetricsMiddleware:
    """Recounts the read model (when stale) right before GET /metrics renders it.

    The /metrics route renders synchronously; counting here, on the app's async engine, keeps
    SQL off the event loop's critical path.
    """

    def __init__(self, app: ASGIApp) -> None:
        """Wrap the ASGI app."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refresh the counts on a scrape, then answer as usual."""
        if scope["type"] == "http" and scope["path"] == METRICS_PATH:
            context = getattr(scope["app"].state, "context", None)
            if context is not None:
                await READ_MODEL_METRICS.refresh(context.engine)
        await self.app(scope, receive, send)
