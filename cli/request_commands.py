"""`signoff request ...`: start, inspect, decide and override requests straight through Temporal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from bizcal.holidays import snapshot_calendar
from cli.origin import local_address_towards
from clients.approvals import (
    RequestRefused,
    read_state,
    request_handle,
    send_update,
    start_request,
    summarize,
)
from clients.temporal import connect_temporal
from config.settings import get_settings
from schemas.approval import (
    ActorInput,
    ApprovalInput,
    ApproveInput,
    CancelInput,
    CommentInput,
    InsertLevelInput,
    PauseInput,
    ReassignInput,
    RejectInput,
    ResumeInput,
    SkipLevelInput,
    WithdrawInput,
)
from schemas.template import Tat, TemplateSnapshot
from store.db import make_engine
from store.master_data import NotFound, load_org_calendar, load_template
from workflows.approval import ApprovalWorkflow

app = typer.Typer(help="Operate on requests directly through Temporal.", no_args_is_help=True)

T = TypeVar("T")
ACTOR = typer.Option(..., "--actor", help="Who does this (user id); recorded in the audit trail.")
REASON = typer.Option(..., "--reason", help="Why; recorded in the audit trail.")


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _run(work: Callable[[Client], Awaitable[T]]) -> T:
    async def go() -> T:
        return await work(await connect_temporal(get_settings()))

    try:
        return asyncio.run(go())
    except RequestRefused as refused:
        raise _fail(f"refused: {refused.reason}") from None


def _model(model: type[BaseModel], **values: Any) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise _fail(f"invalid input: {problems}", 2) from None


def _update(request_id: str, update: Any, arg: ActorInput) -> None:
    # The audit trail records where an act came from, as it does for the API's callers.
    arg = arg.model_copy(update={"ip": local_address_towards(get_settings().temporal_address)})

    async def go(client: Client) -> None:
        handle = request_handle(client, request_id)
        result = await send_update(handle, update, arg)
        _print(summarize(result.request) | {"recorded": [e.kind.value for e in result.events]})

    _run(go)


def _template(org: str, key: str | None, version: int | None, file: Path | None) -> Any:
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    from sqlmodel import Session

    try:
        with Session(engine) as session:
            calendar = load_org_calendar(session, org)
            if file is not None:
                template = _model(TemplateSnapshot, **json.loads(file.read_text()))
            elif key is not None:
                template = load_template(session, org, key, version)
            else:
                raise _fail("give --template KEY or --template-file PATH", 2)
    except NotFound as missing:
        raise _fail(f"not found: {missing}") from None
    finally:
        engine.dispose()
    year = datetime.now(UTC).year
    return template, snapshot_calendar(calendar, year, settings.holiday_years_ahead)


@app.command()
def start(
    requester: str = typer.Option(..., help="User id of the requester."),
    title: str = typer.Option(...),
    org: str = typer.Option("acme"),
    template: str | None = typer.Option(None, "--template", help="Template key in SQL."),
    version: int | None = typer.Option(None, help="Template version (default: latest)."),
    template_file: Path | None = typer.Option(None, exists=True, dir_okay=False),
    amount: str | None = typer.Option(None),
    currency: str | None = typer.Option(None),
    department: str | None = typer.Option(None),
    priority: str = typer.Option("STANDARD"),
    field: list[str] = typer.Option([], help="Free field as key=value (repeatable)."),
    request_id: str | None = typer.Option(None, "--id", help="Workflow id to use."),
) -> None:
    """Start a request from a template version."""
    snapshot, calendar = _template(org, template, version, template_file)
    try:
        money = Decimal(amount) if amount is not None else None
    except InvalidOperation:
        raise _fail(f"invalid input: amount {amount!r} is not a number", 2) from None
    fields = dict(f.split("=", 1) for f in field if "=" in f)
    inp = _model(
        ApprovalInput,
        org_id=org,
        template=snapshot,
        calendar=calendar,
        requester=requester,
        title=title,
        amount=money,
        currency=currency,
        department=department,
        priority=priority,
        fields=fields,
    )

    async def go(client: Client) -> None:
        _, opened = await start_request(client, get_settings().task_queue, inp, request_id)
        _print(summarize(opened.request))

    _run(go)


@app.command()
def show(
    request_id: str, full: bool = typer.Option(False, help="The whole state as JSON.")
) -> None:
    """Where a request stands (from the workflow's query)."""

    async def go(client: Client) -> None:
        handle = request_handle(client, request_id)
        state = await read_state(handle)
        _print(state.model_dump(mode="json") if full else summarize(state))

    _run(go)


@app.command()
def approve(
    request_id: str,
    actor: str = ACTOR,
    comment: str | None = typer.Option(None),
    level: str | None = typer.Option(None, help="Refuse unless this level is current."),
) -> None:
    """Approve the current level as an approver."""
    inp = _model(ApproveInput, actor=actor, comment=comment, level_id=level, via="cli")
    _update(request_id, ApprovalWorkflow.approve, inp)


@app.command()
def reject(request_id: str, actor: str = ACTOR, reason: str = REASON) -> None:
    """Reject the request as an approver."""
    _update(
        request_id,
        ApprovalWorkflow.reject,
        _model(RejectInput, actor=actor, reason=reason, via="cli"),
    )


@app.command()
def comment(request_id: str, actor: str = ACTOR, text: str = typer.Option(...)) -> None:
    """Comment on the request."""
    _update(
        request_id,
        ApprovalWorkflow.comment,
        _model(CommentInput, actor=actor, text=text, via="cli"),
    )


@app.command()
def withdraw(request_id: str, actor: str = ACTOR, reason: str | None = None) -> None:
    """Withdraw the request (requester only)."""
    inp = _model(WithdrawInput, actor=actor, reason=reason)
    _update(request_id, ApprovalWorkflow.withdraw, inp)


@app.command()
def skip(
    request_id: str, actor: str = ACTOR, reason: str = REASON, level: str | None = None
) -> None:
    """Skip the current level, or a named pending one."""
    inp = _model(SkipLevelInput, actor=actor, reason=reason, level_id=level)
    _update(request_id, ApprovalWorkflow.skip_level, inp)


@app.command("insert-approver")
def insert_approver(
    request_id: str,
    actor: str = ACTOR,
    reason: str = REASON,
    position: int = typer.Option(..., help="0-based; the current level's index takes over now."),
    approver: list[str] = typer.Option(..., help="Approver user id (repeatable)."),
    name: str = typer.Option("Inserted approval"),
    mode: str = typer.Option("any", help="any, all or n_of."),
    required: int | None = typer.Option(None, help="For n_of."),
    tat_hours: float = typer.Option(8.0),
) -> None:
    """Insert an approval level at a position."""
    inp = _model(
        InsertLevelInput,
        actor=actor,
        reason=reason,
        position=position,
        approvers=approver,
        name=name,
        mode=mode,
        required_approvals=required,
        tat=Tat(hours=tat_hours) if tat_hours > 0 else {"hours": tat_hours},
    )
    _update(request_id, ApprovalWorkflow.insert_level, inp)


@app.command()
def reassign(
    request_id: str,
    actor: str = ACTOR,
    reason: str = REASON,
    from_user: str = typer.Option(..., "--from"),
    to_user: str = typer.Option(..., "--to"),
) -> None:
    """Move a pending approval to someone else."""
    inp = _model(ReassignInput, actor=actor, reason=reason, from_user=from_user, to_user=to_user)
    _update(request_id, ApprovalWorkflow.reassign, inp)


@app.command()
def pause(request_id: str, actor: str = ACTOR, reason: str = REASON) -> None:
    """Stop the SLA clock."""
    _update(request_id, ApprovalWorkflow.pause, _model(PauseInput, actor=actor, reason=reason))


@app.command()
def resume(request_id: str, actor: str = ACTOR, reason: str = REASON) -> None:
    """Restart the SLA clock."""
    _update(request_id, ApprovalWorkflow.resume, _model(ResumeInput, actor=actor, reason=reason))


@app.command()
def cancel(request_id: str, actor: str = ACTOR, reason: str = REASON) -> None:
    """End the request as CANCELLED."""
    _update(request_id, ApprovalWorkflow.cancel, _model(CancelInput, actor=actor, reason=reason))
