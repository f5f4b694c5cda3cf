"""1,000 open requests survive SIGKILL of the worker, then the API, then the Temporal dev server
(on its SQLite file): every request finishes, each decision is applied once, every reminder and
breach that fell due while something was down fires after the restart, and the SQL read model
ends equal to each workflow's own state.

It found four nondeterminisms on replay: three from the read model's local activity (its
result reached the workflow in another order live than in replay), one from a stale
workflow.now() in a cached workflow's first task after the dev server's restart. ApprovalWorkflow
now writes the read model with a regular activity and fires deadlines on their timers. A query
of each closed workflow at the end replays it.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.security import hash_password
from clients.approvals import RequestBusy, read_state, request_handle, send_update, start_request
from devstack.demo import DEMO_PASSWORD
from schemas.approval import ApproveInput, EventKind, LevelState, RequestState, RequestStatus
from store.db import transaction
from store.tables import AuditRecord, Org, RequestRecord, User
from store.upsert import insert_missing
from tests.api.conftest import login, stack_env
from tests.factories import always_open_calendar, approval_input, level
from tests.faults.restart_stack import (
    PARALLEL,
    DevServer,
    Faulty,
    bounded,
    sleep_until,
    wait_until,
)
from tests.faults.restart_stack import dev_server as dev_server  # noqa: F401 (fixture)
from workflows.approval import ApprovalWorkflow

pytestmark = pytest.mark.faults

# The figure; SIGNOFF_FAULT_REQUESTS makes a quicker local run.
OPEN = int(os.environ.get("SIGNOFF_FAULT_REQUESTS", "1000"))
BY_API = 40  # of each batch of decisions, this many go through the API, the rest by client
RETRIED = 5  # decisions sent while the worker is down, retried after its restart
# Level 1's reminders (50 %, 75 %) and breach fall while the worker is down (those of requests
# started in the last 20 s or so of a long start phase); level 2's while the worker (requests
# approved early: their first deadline falls 20 s after the approval, time enough for the 200
# approvals) or the dev server (the others) is down.
L1_SECONDS = 40.0
L2_SECONDS = 40.0


def _seed_org(engine: Engine) -> tuple[str, str, str]:
    """An org of the test's own: requester, level-1 and level-2 approvers (inbox only)."""
    org = f"faults-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    hashed = hash_password(DEMO_PASSWORD)
    names = ("rita", "ann", "bob")
    with transaction(engine) as session:
        insert_missing(
            session, Org, [{"id": org, "name": org, "calendar": {}, "created_at": now}], ["id"]
        )
        insert_missing(
            session,
            User,
            [
                {
                    "id": f"{org}-{name}",
                    "org_id": org,
                    "email": f"{name}@{org}.test",
                    "name": name.title(),
                    "roles": ["USER"],
                    "active": True,
                    "password_hash": hashed,
                    "failed_logins": 0,
                    "notification_channels": ["inbox"],
                    "created_at": now,
                }
                for name in names
            ],
            ["id"],
        )
    return org, f"{org}-ann", f"{org}-bob"


def _due(lv: LevelState) -> list[datetime]:
    return sorted(d.due for d in lv.deadlines if d.due is not None)


class Decider:
    """Sends approvals through the API (some) and the Temporal client (the rest)."""

    def __init__(self, client: Client, http: httpx.AsyncClient, tokens: dict[str, dict[str, str]]):
        """Keep both ways in."""
        self.client = client
        self.http = http
        self.tokens = tokens

    async def approve(self, ids: list[str], actor: str, level_id: str) -> dict[str, RequestState]:
        """`actor` approves `level_id` of every request, exactly once each; the states after."""

        async def by_api(request_id: str) -> RequestState:
            deadline = time.monotonic() + 300
            while True:  # a client retrying a 503 (worker busy catching up) with the same key
                response = await self.http.post(
                    f"/api/v1/requests/{request_id}/approve",
                    json={"level_id": level_id},
                    headers=self.tokens[actor] | {"Idempotency-Key": f"{request_id}-{level_id}"},
                )
                if response.status_code != 503 or time.monotonic() > deadline:
                    break
            assert response.status_code == 200, response.text
            return RequestState.model_validate(response.json()["request"])

        async def by_client(request_id: str) -> RequestState:
            handle = request_handle(self.client, request_id)
            arg = ApproveInput(actor=actor, level_id=level_id)
            deadline = time.monotonic() + 300
            while True:  # a client retrying while the workflow catches up, with the same id
                try:
                    done = await send_update(
                        handle, ApprovalWorkflow.approve, arg, f"{level_id}-{actor}"
                    )
                    return done.request
                except RequestBusy:
                    assert time.monotonic() < deadline, f"{request_id} stayed busy"
                    await asyncio.sleep(1)

        async def by_either(request_id: str) -> RequestState:
            return await (by_api if request_id in through_api else by_client)(request_id)

        through_api = set(ids[:BY_API])
        return {s.request_id: s for s in await bounded(by_either, ids)}


def _assert_one_request(
    state: RequestState, record: RequestRecord | None, audit: list[AuditRecord], ann: str, bob: str
) -> None:
    rid = state.request_id
    assert state.status == RequestStatus.APPROVED, rid
    decisions = Counter((lv.level_id, d.actor) for lv in state.levels for d in lv.decisions)
    assert decisions == Counter({("L1", ann): 1, ("L2", bob): 1}), rid
    # The read model equals the workflow's state: the row, and the audit trail event by event.
    assert record is not None, rid
    assert (record.status, record.current_level_id) == (state.status.value, None), rid
    assert record.version == state.audit[-1].seq, rid
    assert [(a.seq, a.kind, a.actor, a.level_id) for a in audit] == [
        (e.seq, e.kind.value, e.actor, e.level_id) for e in state.audit
    ], rid
    kinds = Counter((e.kind, e.level_id) for e in state.audit)
    assert kinds[(EventKind.APPROVED, "L1")] == kinds[(EventKind.APPROVED, "L2")] == 1, rid
    assert kinds[(EventKind.COMPLETED, None)] == 1, rid


async def _states(
    client: Client, ids: list[str], parallel: int = PARALLEL
) -> dict[str, RequestState]:
    states = await bounded(
        lambda r: read_state(request_handle(client, r), rpc_timeout=timedelta(seconds=120)),
        ids,
        parallel,
    )
    return {s.request_id: s for s in states}


async def _decide_while_the_worker_is_down(
    http: httpx.AsyncClient, headers: dict[str, str], ids: list[str]
) -> None:
    """A decision with no worker to take it: 503 with Retry-After, never a hang or a 500."""
    answers = await asyncio.gather(
        *(
            http.post(
                f"/api/v1/requests/{rid}/approve",
                json={"level_id": "L1"},
                headers=headers | {"Idempotency-Key": f"retry-{rid}"},
            )
            for rid in ids
        )
    )
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] and "Idempotency-Key" in answer.json()["detail"]


async def _retry_after_the_restart(
    http: httpx.AsyncClient, headers: dict[str, str], ids: list[str], ann: str
) -> None:
    """The client's retry with the same key gets the one decision's outcome; a new one is 409."""
    for rid in ids:
        deadline = time.monotonic() + 300
        while True:  # as Retry-After says, while the new worker catches up
            retried = await http.post(
                f"/api/v1/requests/{rid}/approve",
                json={"level_id": "L1"},
                headers=headers | {"Idempotency-Key": f"retry-{rid}"},
            )
            if retried.status_code != 503 or time.monotonic() > deadline:
                break
        assert retried.status_code == 200, retried.text
        approved = [e for e in retried.json()["events"] if e["kind"] == "approved"]
        assert [(e["actor"], e["level_id"]) for e in approved] == [(ann, "L1")]
        again = await http.post(
            f"/api/v1/requests/{rid}/approve", json={"level_id": "L1"}, headers=headers
        )
        assert again.status_code == 409, again.text


@pytest.mark.timeout(900)
async def test_kills_of_worker_api_and_dev_server_lose_nothing(
    dev_server: DevServer,
    dev_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    tmp_path: Path,
) -> None:
    org, ann, bob = _seed_org(engine)
    env = stack_env(
        dev_env,
        database_url,
        tmp_path,
        SIGNOFF_TEMPORAL_ADDRESS=dev_server.address,
        SIGNOFF_WORKER_STICKY_CACHE_SIZE=str(OPEN + 100),
    )
    faulty = Faulty(env, tmp_path, f"http://127.0.0.1:{env['SIGNOFF_API_PORT']}")
    queue = env["SIGNOFF_TASK_QUEUE"]
    client = await Client.connect(dev_server.address, data_converter=pydantic_data_converter)
    inp = approval_input(
        [
            level("Manager", [ann], hours=L1_SECONDS / 3600),
            level("CFO", [bob], hours=L2_SECONDS / 3600),
        ],
        calendar=always_open_calendar(),
        org_id=org,
        requester=f"{org}-rita",
    )
    faulty.start_worker()
    faulty.start_api()
    ids = [f"{org}-{i:04d}" for i in range(OPEN)]
    early_count = OPEN // 5  # the last ones started: level 1 approved before the kills
    late, early = ids[:-early_count], ids[-early_count:]
    retried = late[:RETRIED]
    with faulty.running():
        async with httpx.AsyncClient(base_url=faulty.url, timeout=60) as http:
            tokens = {
                u: await login(http, f"{u.removeprefix(org + '-')}@{org}.test") for u in (ann, bob)
            }
            decider = Decider(client, http, tokens)
            opened = await bounded(lambda r: start_request(client, queue, inp, r), ids)
            early_approved = await decider.approve(early, ann, "L1")
            l1_due = {r.request.request_id: _due(r.request.levels[0]) for _, r in opened}
            early_l2_due = {r: _due(s.levels[1]) for r, s in early_approved.items()}

            # 1. The worker dies; level-1 deadlines of the late ones and level-2 deadlines of
            # the early ones pass while it is down; decisions sent meanwhile answer 503.
            worker_down = datetime.now(UTC)
            faulty.kill(faulty.worker)
            await _decide_while_the_worker_is_down(http, tokens[ann], retried)
            await sleep_until(
                max([l1_due[r][-1] for r in late] + [early_l2_due[r][-1] for r in early])
            )
            worker_up = datetime.now(UTC)
            faulty.start_worker()
            await _retry_after_the_restart(http, tokens[ann], retried, ann)

            # 2. The API dies and comes back; it takes decisions again.
            faulty.kill(faulty.api)
            faulty.start_api()
            approved = await decider.approve(late[RETRIED:], ann, "L1")

            # 3. The dev server dies at once; level-2 deadlines of the late ones pass while it is
            # down, and the worker and the API reconnect by themselves once it is back on its file.
            l2_due = {r: _due(s.levels[1]) for r, s in approved.items()}
            server_down = datetime.now(UTC)
            dev_server.kill()
            await sleep_until(max(due[-1] for due in l2_due.values()))
            server_up = datetime.now(UTC)
            await dev_server.start()

            async def all_fired() -> bool:
                # A deadline of a level decided in time never fires; every other one must.
                states = await _states(client, ids)
                return all(
                    d.fired_at or (lv.ended_at and d.due and lv.ended_at < d.due)
                    for s in states.values()
                    for lv in s.levels
                    for d in lv.deadlines
                )

            await wait_until("every deadline fired", all_fired, 300)
            await decider.approve(ids, bob, "L2")
            results = await bounded(lambda r: request_handle(client, r).result(), ids)
            assert {r.status for r in results} == {RequestStatus.APPROVED}
            # A closed workflow answers a query by a full replay in the worker (so each one
            # proves its history replays): a few at a time, or the server gives up on queries
            # waiting for the one worker.
            states = await _states(client, ids, parallel=4)
    with Session(engine) as session:
        records = {
            r.id: r
            for r in session.exec(select(RequestRecord).where(col(RequestRecord.org_id) == org))
        }
        audit: dict[str, list[AuditRecord]] = {}
        rows = session.exec(
            select(AuditRecord).where(col(AuditRecord.org_id) == org).order_by(col(AuditRecord.seq))
        )
        for row in rows:
            audit.setdefault(row.request_id, []).append(row)
    outages = {"worker": (worker_down, worker_up), "dev server": (server_down, server_up)}
    fell_in: Counter[str] = Counter()
    for rid, state in states.items():
        _assert_one_request(state, records.get(rid), audit.get(rid, []), ann, bob)
        kinds = Counter((e.kind, e.level_id) for e in state.audit)
        if rid in late:  # level 1 decided only after all its deadlines had passed
            assert (kinds[(EventKind.REMINDER, "L1")], kinds[(EventKind.BREACHED, "L1")]) == (2, 1)
        assert (kinds[(EventKind.REMINDER, "L2")], kinds[(EventKind.BREACHED, "L2")]) == (2, 1), rid
        for lv in state.levels:
            # Each deadline that fell before its level was decided fired once, none after (how
            # many fell before an early approval depends on how fast 1,000 starts went).
            assert lv.ended_at is not None, (rid, lv.level_id)
            due_in_time = [d for d in lv.deadlines if d.due is not None and d.due <= lv.ended_at]
            assert [d for d in lv.deadlines if d.fired_at is not None] == due_in_time, rid
            reminders = sum(d.kind == "reminder" for d in due_in_time)
            breaches = sum(d.kind == "breach" for d in due_in_time)
            assert (
                kinds[(EventKind.REMINDER, lv.level_id)],
                kinds[(EventKind.BREACHED, lv.level_id)],
            ) == (reminders, breaches), (rid, lv.level_id)
        for lv in state.levels:
            for deadline in lv.deadlines:
                if deadline.fired_at is None or deadline.due is None:
                    continue
                for name, (down, up) in outages.items():
                    if down <= deadline.due <= up:
                        # Due while something was down: fired once it was back.
                        assert deadline.fired_at >= up, (rid, lv.level_id, deadline)
                        fell_in[name] += 1
    # Each outage had many deadlines fall in it (else the test proved nothing about it): at the
    # least a third of the early requests' level-2 deadlines.
    assert all(fell_in[name] >= early_count for name in outages), fell_in
