"""The read-model writes on every configured backend: repeated and late writes change nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from approvals.machine import RequestMachine
from schemas.approval import ApproveInput, RequestState
from schemas.projection import RecordProgressInput
from store.db import transaction
from store.read_model import write_progress
from store.tables import (
    AuditRecord,
    RequestAssignee,
    RequestLevelRecord,
    RequestRecord,
)
from tests.factories import approval_input, level

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _machine() -> RequestMachine:
    inp = approval_input([level("Manager", ["mia", "max"], mode="all"), level("CFO", ["cy"])])
    return RequestMachine.open(f"req-{uuid.uuid4()}", inp, {}, T0)


def _progress(state: RequestState, since: int) -> RecordProgressInput:
    return RecordProgressInput(
        request=state.model_copy(update={"audit": []}, deep=True),
        events=[e for e in state.audit if e.seq > since],
    )


def _counts(engine: Engine, request_id: str) -> int:
    with Session(engine) as session:
        events: int = session.exec(
            select(func.count()).where(col(AuditRecord.request_id) == request_id)
        ).one()
    return events


def test_repeated_write_changes_nothing(any_engine: Engine) -> None:
    machine = _machine()
    first = _progress(machine.state, 0)
    with transaction(any_engine) as session:
        out = write_progress(session, first)
    assert out.request_updated and out.events_written == len(first.events)
    with transaction(any_engine) as session:
        again = write_progress(session, first)
    assert not again.request_updated
    assert again.events_written == 0
    assert _counts(any_engine, machine.state.request_id) == len(first.events)


def test_a_late_older_write_does_not_overwrite_a_newer_one(any_engine: Engine) -> None:
    machine = _machine()
    old = _progress(machine.state, 0)
    machine.approve(ApproveInput(actor="mia"), T0 + timedelta(hours=1))
    machine.approve(ApproveInput(actor="max"), T0 + timedelta(hours=2))
    new = _progress(machine.state, old.events[-1].seq)
    with transaction(any_engine) as session:
        write_progress(session, old)
    with transaction(any_engine) as session:
        write_progress(session, new)
    with transaction(any_engine) as session:
        stale = write_progress(session, old)
    assert not stale.request_updated
    rid = machine.state.request_id
    with Session(any_engine) as session:
        row = session.get(RequestRecord, rid)
        assert row is not None
        assert row.current_level_id == "L2" and row.version == new.events[-1].seq
        assert row.created_at == T0 and row.amount is not None
        assignees = session.exec(
            select(RequestAssignee.user_id).where(col(RequestAssignee.request_id) == rid)
        ).all()
        assert list(assignees) == ["cy"]
        levels = session.exec(
            select(RequestLevelRecord)
            .where(col(RequestLevelRecord.request_id) == rid)
            .order_by(col(RequestLevelRecord.position))
        ).all()
        assert [(lv.level_id, lv.status) for lv in levels] == [
            ("L1", "APPROVED"),
            ("L2", "ACTIVE"),
        ]
        assert levels[1].breach_due is not None
        assert RequestState.model_validate(row.snapshot).levels[0].status == "APPROVED"
    total = len(machine.state.audit)
    assert _counts(any_engine, rid) == total
