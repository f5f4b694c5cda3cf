"""`signoff request ...` as an operator runs it: a real process against a real dev server."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import pytest
from sqlalchemy import Engine
from temporalio.testing import WorkflowEnvironment

from devstack.demo import seed_demo
from devstack.temporal import installed_binary
from tests.conftest import WorkerFactory


async def _signoff(env: dict[str, str], *args: str) -> tuple[int, Any, str]:
    signoff = installed_binary("signoff")
    assert signoff
    process = await asyncio.create_subprocess_exec(
        signoff,
        "request",
        *args,
        env=os.environ | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    text = out.decode()
    return process.returncode, json.loads(text) if text.strip() else None, err.decode()


@pytest.fixture
def env(
    dev_env: WorkflowEnvironment, task_queue: str, database_url: str, engine: Engine
) -> dict[str, str]:
    """The environment an operator's shell has: the server, the queue, the demo org's SQL."""
    seed_demo(engine)
    return {
        "SIGNOFF_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "SIGNOFF_TASK_QUEUE": task_queue,
        "SIGNOFF_DATABASE_URL": database_url,
    }


async def test_an_operator_drives_a_request_from_the_command_line(
    dev_env: WorkflowEnvironment, approval_worker: WorkerFactory, env: dict[str, str]
) -> None:
    async with approval_worker(dev_env.client):
        code, started, err = await _signoff(
            env,
            "start",
            "--template",
            "purchase",
            "--requester",
            "acme-rita",
            "--title",
            "Laptop",
            "--amount",
            "2500",
            "--currency",
            "EUR",
        )
        assert code == 0, err
        request_id = started["request_id"]
        assert started["level"] == "L1 Team lead" and started["waiting_on"] == ["acme-alice"]
        assert started["search_attributes"]["SignoffOrg"] == "acme"

        code, _, err = await _signoff(env, "approve", request_id, "--actor", "acme-rita")
        assert code == 1
        assert "refused: acme-rita is not an approver of level L1" in err

        code, approved, _ = await _signoff(env, "approve", request_id, "--actor", "acme-alice")
        assert code == 0 and approved["level"] == "L2 Finance"
        assert approved["recorded"] == ["approved", "level_approved", "level_started"]

        code, paused, _ = await _signoff(
            env, "pause", request_id, "--actor", "acme-manager", "--reason", "quote pending"
        )
        assert code == 0 and paused["sla"] == "PAUSED"
        code, _, err = await _signoff(
            env, "pause", request_id, "--actor", "acme-manager", "--reason", "again"
        )
        assert code == 1 and "already paused" in err
        code, _, _ = await _signoff(
            env, "resume", request_id, "--actor", "acme-manager", "--reason", "quote in"
        )
        assert code == 0
        code, moved, _ = await _signoff(
            env,
            "reassign",
            request_id,
            "--actor",
            "acme-bob",
            "--reason",
            "on leave",
            "--from",
            "acme-bob",
            "--to",
            "acme-manager",
        )
        assert code == 0 and moved["waiting_on"] == ["acme-manager", "acme-carol"]
        code, rejected, _ = await _signoff(
            env, "reject", request_id, "--actor", "acme-carol", "--reason", "no budget"
        )
        assert code == 0 and rejected["status"] == "REJECTED"

        code, shown, _ = await _signoff(env, "show", request_id, "--full")
        assert code == 0
        kinds = [e["kind"] for e in shown["audit"]]
        assert kinds[-2:] == ["rejected", "completed"] and "paused" in kinds
        # The audit trail records the operator's address (the CLI talks to Temporal itself).
        [approved] = [e for e in shown["audit"] if e["kind"] == "approved"]
        assert (approved["detail"]["via"], approved["detail"]["ip"]) == ("cli", "127.0.0.1")


async def test_bad_input_gets_a_clear_error_and_starts_nothing(env: dict[str, str]) -> None:
    base = ["start", "--requester", "acme-rita", "--title", "x"]
    code, _, err = await _signoff(env, *base, "--template", "purchase", "--amount", "lots")
    assert code == 2 and "amount 'lots' is not a number" in err
    code, _, err = await _signoff(env, *base, "--template", "purchase", "--priority", "ASAP")
    assert code == 2 and "unknown priority 'ASAP'" in err
    code, _, err = await _signoff(env, *base, "--template", "no-such-template")
    assert code == 1 and "not found: template 'no-such-template'" in err
    code, _, err = await _signoff(env, "show", "req-does-not-exist")
    assert code == 1 and "closed or does not exist" in err
