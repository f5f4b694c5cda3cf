"""A saved history of ReplyPollerWorkflow must replay on today's code."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.reply_poller import ReplyPollerWorkflow

HISTORY = Path(__file__).parent.parent / "histories" / "reply_poller_idle.json"


async def test_saved_history_replays() -> None:
    history = WorkflowHistory.from_json(HISTORY.stem, HISTORY.read_text())
    replayer = Replayer(workflows=[ReplyPollerWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
