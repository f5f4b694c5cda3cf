"""Request ids, structured JSON logs and Prometheus metrics for the API."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

HTTP_REQUESTS = Counter(
    "signoff_http_requests_total", "HTTP requests answered.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "signoff_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WORKFLOW_STARTS = Counter(
    "signoff_workflow_starts_total", "Requests started (workflows).", ["template"]
)
DECISIONS = Counter(
    "signoff_decisions_total", "Decisions and overrides sent to requests.", ["action", "outcome"]
)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, carrying the current request id."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as JSON."""
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": REQUEST_ID.get(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Send every log line of the process through the JSON formatter."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def _route_template(scope: Scope) -> str:
    """The matched route's full path template, so metrics never get one label per id."""
    path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str) or not path:
        return "unmatched"
    # A route's path is relative to its router's prefix; the prefix is whatever precedes the
    # route's own part in the path that was called.
    rendered = path
    for name, value in scope.get("path_params", {}).items():
        # Escaped: a value with a backslash is text, not a regex group reference.
        literal = str(value).replace("\\", "\\\\")
        rendered = re.sub(r"\{" + re.escape(name) + r"(:[^}]*)?\}", literal, rendered)
    called = str(scope.get("path", ""))
    return called[: len(called) - len(rendered)] + path if called.endswith(rendered) else path


class RequestContextMiddleware:
    """X-Request-ID on every response (taken from the caller when sane), metrics, access log."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap the ASGI app."""
        self.app = app
        self.log = logging.getLogger("signoff.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP exchange."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        counted = False

        def count() -> None:
            nonlocal counted
            if counted:
                return
            counted = True
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(elapsed)
            self.log.info("%s %s -> %s in %.1f ms", method, scope["path"], status, elapsed * 1000)

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Counted before the last byte leaves: a client that reads /metrics right
                # after its response must see that response counted (dependencies are closed
                # only after the body is sent).
                count()
            await send(message)

        started_response = False

        async def tracking_send(message: Message) -> None:
            nonlocal started_response
            started_response = started_response or message["type"] == "http.response.start"
            await send_with_id(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            # Answered here rather than by Starlette's outermost handler, which re-raises and
            # makes the server drop the keep-alive connection after the 500.
            self.log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started_response:
                raise
            await _send_problem_500(scope, tracking_send)
        finally:
            count()
            REQUEST_ID.reset(token)


async def _send_problem_500(scope: Scope, send: Send) -> None:
    body = json.dumps(
        {
            "type": "https://signoff.dev/problems/500",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "an unexpected error occurred; it has been logged",
            "instance": scope["path"],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
