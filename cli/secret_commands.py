"""`signoff secrets ...`: a new key for the encryption key ring, and re-encrypting under it.

Rotation: `new-key`, prepend its output to SIGNOFF_ENCRYPTION_KEYS on every replica (the new
key encrypts, the old ones still decrypt), `rotate`, then drop the old key from the ring.
"""

from __future__ import annotations

import asyncio
import getpass

import typer

from config.settings import get_settings
from store.async_db import make_async_engine
from store.secret_box import SecretKeyError, new_key_text, secret_box
from store.secret_rotation import RotationCount, rotate_secrets

app = typer.Typer(help="Secrets at rest: the encryption key ring.", no_args_is_help=True)


@app.command("new-key")
def new_key(
    key_id: str = typer.Argument(..., help="The new key's id: 1-32 letters, digits, '-' or '_'."),
) -> None:
    """Print a fresh key entry (ID:BASE64) to prepend to SIGNOFF_ENCRYPTION_KEYS."""
    try:
        entry = new_key_text(key_id)
    except SecretKeyError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(entry)
    typer.echo(
        "prepend it to SIGNOFF_ENCRYPTION_KEYS on every replica (NEW,OLD...), then run "
        "`signoff secrets rotate`",
        err=True,
    )


@app.command("rotate")
def rotate(
    batch_size: int = typer.Option(200, min=1, max=10_000, help="Rows per transaction."),
) -> None:
    """Re-encrypt every stored secret (legacy plaintext too) under the current key."""
    settings = get_settings()
    try:
        box = secret_box(settings)
    except SecretKeyError as error:
        typer.echo(f"error: SIGNOFF_ENCRYPTION_KEYS: {error}", err=True)
        raise typer.Exit(2) from None

    async def run() -> list[RotationCount]:
        engine = make_async_engine(settings.resolved_database_url())
        try:
            return await rotate_secrets(engine, box, actor=_operator(), batch_size=batch_size)
        finally:
            await engine.dispose()

    counts = asyncio.run(run())
    typer.echo(f"current key: {box.current_key_id}")
    for count in counts:
        name = f"{count.table}.{count.column}"
        if count.missing:
            typer.echo(f"{name}: not in this database")
            continue
        line = f"{name}: {count.rewritten} re-encrypted, {count.current} already current"
        if count.changed_meanwhile:
            line += f", {count.changed_meanwhile} changed meanwhile (already new)"
        if count.undecryptable:
            line += f", {count.undecryptable} do not decrypt (left as they are)"
        typer.echo(line)
    failed = sum(c.undecryptable for c in counts)
    if failed:
        typer.echo(
            f"error: {failed} secret(s) do not decrypt with any key of the ring: keep the old "
            "keys until they are set again",
            err=True,
        )
        raise typer.Exit(1)


def _operator() -> str:
    """Who ran the command, for the security event."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"
