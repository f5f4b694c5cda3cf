"""Saved histories of ApprovalWorkflow must replay on today's code (determinism guard)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.approval import ApprovalWorkflow

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("approval_*.json"))


def test_every_scenario_has_a_saved_history() -> None:
    assert {p.stem for p in HISTORIES} >= {
        "approval_timers_and_escalations",
        "approval_overrides_and_signals",
        "approval_cancelled",
        "approval_role_resolved",
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_saved_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(workflows=[ApprovalWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_histories_cover_timers_updates_and_signals() -> None:
    kinds: set[str] = set()
    for path in HISTORIES:
        for event in json.loads(path.read_text())["events"]:
            kinds.update(key for key in event if key.endswith("EventAttributes"))
    assert {
        "timerFiredEventAttributes",
        "timerCanceledEventAttributes",
        "workflowExecutionUpdateAcceptedEventAttributes",
        "workflowExecutionSignaledEventAttributes",
        "activityTaskCompletedEventAttributes",
        "markerRecordedEventAttributes",
        "upsertWorkflowSearchAttributesEventAttributes",
    } <= kinds
