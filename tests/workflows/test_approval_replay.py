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


SCENARIOS = {
    "approval_timers_and_escalations",
    "approval_overrides_and_signals",
    "approval_cancelled",
    "approval_role_resolved",
}


def test_every_scenario_has_a_saved_history() -> None:
    """Each scenario as recorded today, and as recorded before the read model moved from a
    local activity to a regular one (workflows still running then must replay)."""
    assert {p.stem for p in HISTORIES} >= SCENARIOS | {f"{s}_local_publish" for s in SCENARIOS}


def _published_with(path: Path) -> set[str]:
    """How the history wrote the read model: 'activity', 'local activity', or both."""
    ways: set[str] = set()
    for event in json.loads(path.read_text())["events"]:
        scheduled = event.get("activityTaskScheduledEventAttributes")
        if scheduled and scheduled["activityType"]["name"] == "record_request_progress":
            ways.add("activity")
        marker = event.get("markerRecordedEventAttributes")
        if marker and marker["markerName"] == "core_local_activity":
            ways.add("local activity")
    return ways


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_read_model_is_written_by_a_regular_activity(scenario: str) -> None:
    folder = HISTORIES[0].parent
    assert _published_with(folder / f"{scenario}.json") == {"activity"}
    assert _published_with(folder / f"{scenario}_local_publish.json") == {"local activity"}


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
