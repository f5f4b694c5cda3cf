"""RFC 9457 problem details for every error the API answers, and the handlers that make them."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error answered as problem+json with its status, a short title and a detail."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Describe the problem; the title defaults to the status phrase."""
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.headers = headers or {}
        self.extra = extra or {}


def not_found(what: str) -> Problem:
    """404 for something missing or belonging to another org (never told apart)."""
    return Problem(404, f"{what} not found")


def forbidden(detail: str) -> Problem:
    """403: the caller may not do this."""
    return Problem(403, detail)


def conflict(detail: str) -> Problem:
    """409: the state does not allow it (stale, duplicate, closed)."""
    return Problem(409, detail)


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem+json response; `instance` is the path that failed."""
    body: dict[str, Any] = {
        "type": f"https://signoff.dev/problems/{status}",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error, expected or not, as problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.detail, title=exc.title, headers=exc.headers, extra=exc.extra
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem_response(request, exc.status_code, detail, headers=dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "msg": str(error.get("msg", "")),
                "type": str(error.get("type", "")),
            }
            for error in exc.errors()
        ]
        summary = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return problem_response(
            request, 422, summary or "invalid request", extra={"errors": errors}
        )

    @app.exception_handler(RPCError)
    async def _temporal_rpc(request: Request, exc: RPCError) -> JSONResponse:
        # A broken connection (the SDK says "transport error", status UNKNOWN) is no refusal.
        lost = exc.status == RPCStatusCode.UNKNOWN and exc.message == "transport error"
        if lost or exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            return _temporal_down(request, exc)
        log.error("Temporal refused a call on %s: %s", request.url.path, exc)
        return problem_response(request, 502, "the workflow engine refused the call")

    @app.exception_handler(RuntimeError)
    async def _runtime(request: Request, exc: RuntimeError) -> JSONResponse:
        # The lazy Temporal client raises a plain RuntimeError when it cannot connect.
        if "client connect" in str(exc).lower():
            return _temporal_down(request, exc)
        raise exc

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # A lost or refused connection is an outage the caller can wait out; a value it cannot
        # hold is bad input; anything else (a constraint, a bad statement) is a bug: a 500.
        if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
            log.error("the database is unreachable on %s: %s", request.url.path, exc.orig)
            return problem_response(
                request,
                503,
                "the database is unreachable; try again shortly",
                headers={"Retry-After": "5"},
            )
        if isinstance(exc, DataError):
            # A value the database cannot hold (a NUL character, a number out of range) comes
            # from the caller's input: theirs to fix, not a server fault. Logged, to find the
            # field that should have refused it.
            log.warning("the database refused a value on %s: %s", request.url.path, exc.orig)
            return problem_response(
                request, 422, "a value in the request cannot be stored (e.g. a NUL character)"
            )
        raise exc

    # Anything else unexpected is answered by RequestContextMiddleware (a 500 problem).


def _temporal_down(request: Request, exc: Exception) -> JSONResponse:
    log.error("Temporal is unreachable on %s: %s", request.url.path, exc)
    return problem_response(
        request,
        503,
        "the workflow engine is unreachable; try again shortly",
        headers={"Retry-After": "5"},
    )


_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "For 422: each invalid field.",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


def document_problems(app: FastAPI) -> None:
    """Describe every error response in the OpenAPI document as the problem+json it is."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = _PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for code, response in list(responses.items()):
                    if code.startswith(("4", "5")):
                        response["content"] = problem
                responses.setdefault("422", {"description": "Invalid input"})["content"] = problem
                responses["default"] = {"description": "An error", "content": problem}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
