"""`signoff`: entry point and the commands that run Signoff's processes."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import typer

from cli.request_commands import app as request_app
from cli.secret_commands import app as secrets_app
from cli.user_commands import app as users_app
from config.settings import get_settings

app = typer.Typer(
    help="Signoff: durable approvals and AP automation on Temporal.", no_args_is_help=True
)
app.add_typer(request_app, name="request")
app.add_typer(users_app, name="users")
app.add_typer(secrets_app, name="secrets")
db_app = typer.Typer(help="The SQL database.", no_args_is_help=True)
app.add_typer(db_app, name="db")
temporal_app = typer.Typer(help="The local Temporal dev server.", no_args_is_help=True)
app.add_typer(temporal_app, name="temporal")
demo_app = typer.Typer(help="The demo org.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def dev() -> None:
    """Start everything on embedded defaults: Temporal + Web UI, worker, API, SQLite, demo."""
    from devstack.run import run_stack

    _logging()
    raise typer.Exit(asyncio.run(run_stack(get_settings())))


@app.command()
def api() -> None:
    """Serve the REST API (uvicorn) on SIGNOFF_API_HOST:SIGNOFF_API_PORT."""
    from api.main import serve

    serve(get_settings())


@app.command()
def worker(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the worker until SIGINT/SIGTERM (running activities are let finish)."""
    from workers.approval_worker import run_worker

    _logging(verbose)
    asyncio.run(run_worker(get_settings()))


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the database migrations."""
    from store.migrate import upgrade

    settings = get_settings()
    upgrade(settings.resolved_database_url(), revision)
    typer.echo(f"database at {revision}")


@temporal_app.command("start")
def temporal_start(headless: bool = typer.Option(False, help="No Web UI.")) -> None:
    """Run the Temporal dev server in the foreground (or say which one is already running)."""
    from devstack.run import serve_temporal

    _logging()
    raise typer.Exit(asyncio.run(serve_temporal(get_settings(), headless=headless)))


@temporal_app.command("register-search-attributes")
def temporal_register() -> None:
    """Register Signoff's search attributes on the configured namespace."""
    from clients.temporal import connect_temporal
    from devstack.temporal import register_search_attributes

    async def register() -> list[str]:
        settings = get_settings()
        client = await connect_temporal(settings)
        return await register_search_attributes(client, settings.temporal_namespace)

    added = asyncio.run(register())
    typer.echo(f"registered: {', '.join(added)}" if added else "all search attributes present")


@demo_app.command("seed")
def demo_seed() -> None:
    """Create the demo org Acme with its users and templates (idempotent)."""
    from devstack.demo import seed_demo
    from store.db import make_engine
    from store.migrate import upgrade

    url = get_settings().resolved_database_url()
    upgrade(url)
    engine = make_engine(url)
    typer.echo("demo org seeded" if seed_demo(engine) else "demo org already there")
    engine.dispose()


def main() -> None:
    """Console-script entry point."""
    code: int = 0
    try:
        app()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    # The Temporal client's Rust threads can abort CPython's finalization with "PyGILState_Release"
    # (temporalio/sdk-python#300); every command's work is done here, so skip the teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
