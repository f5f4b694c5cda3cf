"""Liveness, readiness (SQL, Temporal, object store) and Prometheus metrics."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from api.deps import ContextDep

router = APIRouter(tags=["operations"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


async def _sql(context: ContextDep) -> None:
    async with context.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _temporal(context: ContextDep) -> None:
    await context.temporal.workflow_service.get_system_info(
        GetSystemInfoRequest(), timeout=timedelta(seconds=2)
    )


async def _objects(context: ContextDep) -> None:
    await run_in_threadpool(context.objects.check)


@router.get("/health/ready", responses={503: {"description": "A dependency is down"}})
async def ready(context: ContextDep) -> JSONResponse:
    """SQL, Temporal and the object store all answer (503 naming the ones that do not)."""
    checks = {"sql": _sql, "temporal": _temporal, "object_store": _objects}
    results = await asyncio.gather(
        *(asyncio.wait_for(check(context), timeout=3) for check in checks.values()),
        return_exceptions=True,
    )
    report = {
        name: "ok" if not isinstance(result, BaseException) else f"down: {type(result).__name__}"
        for name, result in zip(checks, results, strict=True)
    }
    healthy = all(value == "ok" for value in report.values())
    body = {"status": "ready" if healthy else "not ready", "checks": report}
    return JSONResponse(body, status_code=200 if healthy else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus metrics of this process."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
