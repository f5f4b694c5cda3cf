"""Saved histories of InvoiceWorkflow and MailboxPollerWorkflow must replay on today's code.

Recorded with `python -m tests.histories.record_invoices`: an invoice posted, one parked on a
3-way mismatch then overridden and posted, one failed at its time limit after reminders, and
a mailbox pass that could not reach its server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.invoice import InvoiceWorkflow
from workflows.mailbox_poller import MailboxPollerWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"
NAMES = ["invoice_posted", "invoice_overridden", "invoice_failed", "mailbox_poller_unreachable"]


@pytest.mark.parametrize("name", NAMES)
async def test_saved_history_replays(name: str) -> None:
    path = HISTORIES / f"{name}.json"
    history = WorkflowHistory.from_json(name, path.read_text())
    replayer = Replayer(
        workflows=[InvoiceWorkflow, MailboxPollerWorkflow], data_converter=pydantic_data_converter
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_the_histories_hold_what_they_are_named_for() -> None:
    overridden = (HISTORIES / "invoice_overridden.json").read_text()
    assert "workflowExecutionUpdateAcceptedEventAttributes" in overridden
    failed = (HISTORIES / "invoice_failed.json").read_text()
    assert failed.count("timerFiredEventAttributes") >= 9  # the daily reminders
