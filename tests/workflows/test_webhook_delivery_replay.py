"""Saved histories of WebhookDeliveryWorkflow must replay on today's code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.webhook_delivery import WebhookDeliveryWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"


@pytest.mark.parametrize("name", ["webhook_retried", "webhook_dead"])
async def test_saved_history_replays(name: str) -> None:
    path = HISTORIES / f"{name}.json"
    history = WorkflowHistory.from_json(name, path.read_text())
    replayer = Replayer(workflows=[WebhookDeliveryWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None


def test_the_histories_cover_the_backoff_sleep_retries_and_the_dead_letter() -> None:
    retried = json.loads((HISTORIES / "webhook_retried.json").read_text())["events"]
    dead = json.loads((HISTORIES / "webhook_dead.json").read_text())["events"]
    kinds = [k for e in retried for k in e if k.endswith("EventAttributes")]
    assert "timerFiredEventAttributes" in kinds  # the wait after the fan-out's failed try
    started = [e for e in retried if "activityTaskStartedEventAttributes" in e]
    assert started[0]["activityTaskStartedEventAttributes"]["attempt"] == 2  # retried once
    scheduled = [
        e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for e in dead
        if "activityTaskScheduledEventAttributes" in e
    ]
    assert scheduled == ["send_webhook", "record_dead_letter"]
