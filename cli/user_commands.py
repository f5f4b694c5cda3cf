"""`signoff users ...`: operator acts on accounts straight in the database."""

from __future__ import annotations

import asyncio
import getpass

import typer
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.second_factor import clear_mfa
from config.settings import get_settings
from store.async_db import make_async_engine
from store.security_events import record_user_event
from store.tables import User

app = typer.Typer(help="Users of any org (operator escape hatches).", no_args_is_help=True)


async def _reset_mfa(email: str, reason: str, actor: str) -> str | None:
    engine = make_async_engine(get_settings().resolved_database_url())
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            found = await session.exec(select(User).where(col(User.email) == email))
            user = found.first()
            if user is None:
                return None
            was_on = user.mfa_enabled
            await clear_mfa(session, user)
            detail = {"by": "cli reset-mfa", "was_enabled": was_on}
            record_user_event(
                session, user, "mfa_disabled", ip=None, actor=actor, reason=reason, detail=detail
            )
            await session.commit()
            return user.id
    finally:
        await engine.dispose()


@app.command("reset-mfa")
def reset_mfa(
    email: str = typer.Argument(..., help="The user's e-mail."),
    reason: str = typer.Option(..., "--reason", help="Why, for the security audit trail."),
) -> None:
    """Turn a user's MFA off (a lost device): they log in with the password alone, or enrol
    again at login when their org requires MFA for their role."""
    reason = reason.strip()
    if not reason:
        typer.echo("--reason must say why", err=True)
        raise typer.Exit(2)
    actor = f"cli:{getpass.getuser()}"
    user_id = asyncio.run(_reset_mfa(email.strip().lower(), reason[:2000], actor))
    if user_id is None:
        typer.echo(f"no user has the e-mail {email}", err=True)
        raise typer.Exit(1)
    typer.echo(f"MFA reset for {email} ({user_id}); recorded as mfa_disabled")
