"""`signoff dev`: the whole stack on embedded defaults, supervised in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess

from config.settings import Settings
from devstack.demo import DEMO_ORG, DEMO_PASSWORD, DEMO_USERS, seed_demo
from devstack.temporal import (
    installed_binary,
    register_search_attributes,
    start_dev_server,
    wait_until_serving,
)
from store.db import make_engine
from store.migrate import upgrade


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


async def _ensure_temporal(
    settings: Settings, *, headless: bool = False
) -> tuple[subprocess.Popen[bytes] | None, list[str]]:
    host, port = _host_port(settings.temporal_address)
    ui = None if headless else settings.temporal_ui_port
    process = start_dev_server(
        settings.data_dir.resolve() / "temporal", host=host, port=port, ui_port=ui
    )
    client = await wait_until_serving(settings.temporal_address, settings.temporal_namespace)
    added = await register_search_attributes(client, settings.temporal_namespace)
    return process, added


async def _until_stopped(children: list[subprocess.Popen[bytes]]) -> None:
    """Wait for SIGINT/SIGTERM or for a child to die."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        if any(child.poll() is not None for child in children):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=40)
        except subprocess.TimeoutExpired:
            child.kill()


async def serve_temporal(settings: Settings, *, headless: bool) -> int:
    """Run the dev server in the foreground until interrupted."""
    process, added = await _ensure_temporal(settings, headless=headless)
    if added:
        print(f"registered search attributes: {', '.join(added)}")
    if process is None:
        print(f"a Temporal server already answers at {settings.temporal_address}; reusing it")
        return 0
    print(f"Temporal dev server at {settings.temporal_address}; Web UI {_ui_url(settings)}")
    await _until_stopped([process])
    _stop([process])
    return 0


def _ui_url(settings: Settings) -> str:
    host, _ = _host_port(settings.temporal_address)
    return f"http://{host}:{settings.temporal_ui_port}/namespaces/{settings.temporal_namespace}"


def _banner(settings: Settings, reused: bool, worker_pid: int) -> str:
    ui = _ui_url(settings)
    signoff = installed_binary("signoff") or "signoff"
    users = "\n".join(
        f"    {email:<20} {uid:<14} {', '.join(roles)}" for uid, email, _, roles in DEMO_USERS
    )
    api = settings.resolved_public_url()
    mail = (
        f"SMTP {settings.smtp_host}:{settings.smtp_port}"
        if settings.smtp_host
        else f"written as .eml files to {settings.resolved_outbox_dir().resolve()}"
    )
    folder = settings.data_dir.resolve() / "temporal"
    where = "reused the one already running" if reused else f"started, data in {folder}"
    return f"""
Signoff is running (Ctrl-C stops it).

  Temporal Web UI    {ui}/workflows
  Breached requests  {ui}/workflows?query=SignoffSla%3D%22BREACHED%22
  Invoices to review {ui}/workflows?query=SignoffStatus%3D%22NEEDS_REVIEW%22
  Temporal server    {settings.temporal_address} ({where})
  REST API           {api}/docs  (OpenAPI at {api}/openapi.json)
  Worker             pid {worker_pid}, task queue {settings.task_queue}
  Database           {settings.resolved_database_url()}
  E-mails            {mail}

  Demo org "{DEMO_ORG}"; every user's password is {DEMO_PASSWORD!r}:
{users}

  Log in and start a request over HTTP:
    curl -s {api}/api/v1/auth/token -H 'content-type: application/json' \\
        -d '{{"email": "rita@acme.test", "password": "{DEMO_PASSWORD}"}}'

  Send an invoice through accounts payable (extract, validate, approve, post), with
  the token from above as $TOKEN; the sample Factur-X invoice of Azure Interior fits the
  demo's ERP data (approvers: alice, then bob; GET /api/v1/invoices shows where it is):
    curl -s {api}/api/v1/invoices -H "authorization: Bearer $TOKEN" -F file=@invoice.pdf

  Try it from another terminal:
    {signoff} request start --template purchase --requester acme-rita \\
        --title "Laptop" --amount 2500 --currency EUR
    {signoff} request approve <request id> --actor acme-alice
    {signoff} request show <request id>
"""


async def run_stack(settings: Settings) -> int:
    """Start Temporal (or reuse it), migrate and seed SQL, run the worker, print where to click."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    temporal, _ = await _ensure_temporal(settings)
    url = settings.resolved_database_url()
    upgrade(url)
    engine = make_engine(url)
    seed_demo(engine)
    engine.dispose()
    signoff = installed_binary("signoff")
    if signoff is None:
        raise RuntimeError("the signoff command is not installed in this environment")
    worker = subprocess.Popen([signoff, "worker"])
    api = subprocess.Popen([signoff, "api"])
    children = [api, worker] + ([temporal] if temporal else [])
    print(_banner(settings, temporal is None, worker.pid))
    try:
        await _until_stopped(children)
    finally:
        _stop(children)
    clean = (0, -signal.SIGTERM, None)
    return 0 if worker.returncode in clean and api.returncode in clean else 1
