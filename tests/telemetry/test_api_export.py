"""`signoff api` with a collector configured sends its spans over OTLP/HTTP, the last ones too."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import SECRET, free_port, spawn, wait_until_healthy


class _Collector(BaseHTTPRequestHandler):
    """Keeps what is POSTed to it, answering as an OTLP/HTTP receiver does."""

    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        """Record one export."""
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """An OTLP/HTTP receiver on a free port: its base URL and what it received."""
    received: list[tuple[str, bytes]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_the_api_exports_its_request_spans_before_it_exits(
    collector: tuple[str, list[tuple[str, bytes]]], database_url: str, tmp_path: Path
) -> None:
    endpoint, received = collector
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNOFF_", "OTEL_"))} | {
        "SIGNOFF_OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "SIGNOFF_DATABASE_URL": database_url,
        "SIGNOFF_DATA_DIR": str(tmp_path),
        "SIGNOFF_SECRET_KEY": SECRET,
        "SIGNOFF_API_PORT": str(port),
        # Never reached: /health/live does not ask Temporal.
        "SIGNOFF_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    log = tmp_path / "api.log"
    api = spawn("api", env, log)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", api, log)
        assert httpx.get(f"http://127.0.0.1:{port}/health/live").status_code == 200
    finally:
        api.terminate()
        try:
            api.wait(timeout=30)
        except subprocess.TimeoutExpired:
            api.kill()
    # The batch is exported at shutdown: uvicorn ends the process by re-raising SIGTERM, so
    # only a flush in the app's lifespan gets the spans out.
    traces = [body for path, body in received if path == "/v1/traces"]
    assert traces, f"nothing exported; the API's log:\n{log.read_text()[-3000:]}"
    exported = b"".join(traces)
    assert b"signoff-api" in exported and b"/health/live" in exported
