"""A Temporal dev server of a test's own, with its Web UI, as `make run` starts it."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from devstack.temporal import register_search_attributes, start_dev_server, wait_until_serving

NAMESPACE = "default"


@dataclass(frozen=True)
class DevServer:
    """Where the server answers: a client with Signoff's data converter, and the Web UI."""

    client: Client
    ui_url: str
    log: Path


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(log: Path, lines: int = 30) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


async def _wait_for_ui(ui_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once the Web UI answers HTTP 200 (it comes up a few seconds after gRPC)."""
    deadline = asyncio.get_running_loop().time() + 60
    page = f"{ui_url}/namespaces/{NAMESPACE}/workflows"
    async with httpx.AsyncClient(timeout=2) as http:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the dev server exited early:\n{_log_tail(log)}")
            try:
                if (await http.get(page)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"the Web UI at {ui_url} never answered:\n{_log_tail(log)}")
            await asyncio.sleep(0.25)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by pid, then SIGKILL if it lingers; the process runs in a session of its own."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@asynccontextmanager
async def dev_server_with_ui(data_dir: Path) -> AsyncIterator[DevServer]:
    """`temporal server start-dev` on free ports with the Web UI and Signoff's attributes.

    Stopped by its pid on exit, whatever happened inside.
    """
    port, ui_port = free_port(), free_port()
    process = start_dev_server(data_dir, port=port, ui_port=ui_port)
    assert process is not None, f"something already listens on 127.0.0.1:{port}"
    log = data_dir / "temporal.log"
    try:
        address = f"127.0.0.1:{port}"
        await wait_until_serving(address, NAMESPACE, seconds=60)
        client = await Client.connect(
            address, namespace=NAMESPACE, data_converter=pydantic_data_converter
        )
        # Registered on the command line already; registering again (as on a reused server)
        # adds nothing but proves the namespace has them all.
        await register_search_attributes(client, NAMESPACE)
        ui_url = f"http://127.0.0.1:{ui_port}"
        await _wait_for_ui(ui_url, process, log)
        yield DevServer(client=client, ui_url=ui_url, log=log)
    finally:
        _stop(process)
