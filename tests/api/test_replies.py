"""Approval by e-mail reply, end to end: the approval e-mail taken from the SMTP catcher, a reply
put into a real dovecot mailbox, the worker's poller reading it and signalling the request.

The Schedule is paused while the tests run their own passes (two passes at once would read the
same mail); one test lets the Schedule poll on its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import temporalio.client as tc
from sqlalchemy import Engine
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from schemas.notifications import ProcessRepliesInput, ProcessRepliesOutput
from tests.api.conftest import Stack, as_user, seed_orgs, stack_env, start_purchase, start_stack
from tests.api.imap_server import HANDLED, PASSWORD, USERNAME, Dovecot, ImapGate, reply_mail
from tests.api.imap_server import dovecot as dovecot  # noqa: F401 (fixture)
from tests.api.smtp_catcher import Catcher, smtp_env
from tests.api.smtp_catcher import smtp_catcher as smtp_catcher  # noqa: F401 (fixture)
from workers.schedules import REPLY_SCHEDULE_ID
from workflows.reply_poller import ReplyPollerWorkflow

ALICE = "Alice Lead <alice@acme.test>"
NOTHING = ProcessRepliesOutput()
State = dict[str, Any]


class Bug(AssertionError):
    """A known bug showed: the only failure an xfail(raises=Bug) test expects."""


class PassFailed(AssertionError):
    """The poller's activity failed."""


@dataclass(frozen=True)
class Sent:
    """A reply in the mailbox."""

    uid: int
    message_id: str


@dataclass
class Replies:
    """The stack, its mailbox (reached by the worker through the gate) and the mail it sent."""

    stack: Stack
    http: httpx.AsyncClient
    client: tc.Client
    imap: Dovecot
    gate: ImapGate
    mail: Catcher
    folder: Path

    @property
    def schedule(self) -> tc.ScheduleHandle:
        return self.client.get_schedule_handle(REPLY_SCHEDULE_ID)

    async def ask_alice(self, amount: str) -> tuple[str, EmailMessage]:
        """A new purchase request and the e-mail asking alice to decide on it."""
        rita = await as_user(self.http, "rita@acme.test")
        started = await start_purchase(self.http, rita, amount)
        request_id = str(started["request"]["request_id"])  # type: ignore[index]
        return request_id, await self.mail_to_alice(request_id)

    async def post(self, user: str, request_id: str, action: str, **body: str) -> None:
        headers = await as_user(self.http, user)
        url = f"/api/v1/requests/{request_id}/{action}"
        response = await self.http.post(url, json=body, headers=headers)
        assert response.status_code == 200, response.text

    async def state(self, request_id: str) -> State:
        rita = await as_user(self.http, "rita@acme.test")
        response = await self.http.get(f"/api/v1/requests/{request_id}", headers=rita)
        assert response.status_code == 200, response.text
        state: State = response.json()["request"]
        return state

    async def wait_state(self, request_id: str, ready: Callable[[State], bool]) -> State:
        deadline = time.monotonic() + 20
        while not ready(state := await self.state(request_id)):
            assert time.monotonic() < deadline, state
            await asyncio.sleep(0.2)
        return state

    async def mail_to_alice(self, request_id: str, text: str = "") -> EmailMessage:
        """The first e-mail to alice about this request asking her to decide (or with `text`)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for message in self.mail.to("alice@acme.test"):
                body = message.get_body(preferencelist=("plain",))
                if message["X-Signoff-Request"] == request_id and (
                    text in (body.get_content() if body else "") if text else message["Reply-To"]
                ):
                    return message
            await asyncio.sleep(0.1)
        raise AssertionError(f"no e-mail to alice about {request_id} {text}")

    def answers(self, sent: Sent) -> list[EmailMessage]:
        """Signoff's answers to one reply."""
        with self.mail.lock:
            return [m for m in self.mail.messages if m["In-Reply-To"] == sent.message_id]

    def deliver(self, original: EmailMessage, first_line: str, **how: Any) -> Sent:
        """A reply to the approval e-mail, put into INBOX as the mail server would."""
        raw, message_id = reply_mail(original, first_line, sender=how.pop("sender", ALICE), **how)
        return Sent(self.imap.deliver(raw), message_id)

    def handled(self, sent: Sent) -> bool:
        return self.imap.handled(sent.uid)

    def log(self) -> str:
        return (self.folder / "worker.log").read_text()

    async def run_pass(self, *, retries_ok: bool = False) -> ProcessRepliesOutput:
        """One pass on the stack's queue; PassFailed at its first failed attempt (unless ok)."""
        handle = await self.client.start_workflow(
            ReplyPollerWorkflow.run,
            ProcessRepliesInput(),
            id=f"test-reply-pass-{uuid.uuid4().hex[:8]}",
            task_queue=self.stack.env["SIGNOFF_TASK_QUEUE"],
        )
        deadline = time.monotonic() + 60
        while (described := await handle.describe()).status == tc.WorkflowExecutionStatus.RUNNING:
            pending = described.raw_description.pending_activities
            failed = [a.last_failure.message for a in pending if a.HasField("last_failure")]
            if (failed and not retries_ok) or time.monotonic() > deadline:
                await handle.terminate("the test gave up on this pass")
                raise PassFailed(f"the pass failed: {failed}")
            await asyncio.sleep(0.1)
        return await handle.result()

    async def schedule_queue(self) -> str | None:
        """The task queue the reply Schedule starts its passes on, None without a Schedule."""
        try:
            action = (await self.schedule.describe()).schedule.action
        except RPCError:
            return None
        return action.task_queue if isinstance(action, tc.ScheduleActionStartWorkflow) else None

    async def pause_schedule(self) -> None:
        """Pause the Schedule and wait for a pass it started to end."""
        await self.schedule.pause(note="the reply tests run their own passes")
        for running in (await self.schedule.describe()).info.running_actions:
            assert isinstance(running, tc.ScheduleActionExecutionStartWorkflow)
            await asyncio.wait_for(
                self.client.get_workflow_handle(running.workflow_id).result(), 60
            )


@pytest.fixture(scope="module")
async def replies(
    request: pytest.FixtureRequest,
    dev_env: WorkflowEnvironment,
    database_url: str,
    engine: Engine,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Replies]:
    """One stack whose worker polls the dovecot mailbox (through the gate) every 5 s."""
    imap: Dovecot = request.getfixturevalue("dovecot")
    catcher: Catcher = request.getfixturevalue("smtp_catcher")
    seed_orgs(engine)
    folder = tmp_path_factory.mktemp("replies")
    gate = ImapGate(imap)
    reply = {"ADDRESS": USERNAME, "IMAP_HOST": "127.0.0.1", "IMAP_PORT": str(gate.port)}
    reply |= {"IMAP_SSL": "false", "IMAP_USERNAME": USERNAME, "IMAP_PASSWORD": PASSWORD}
    settings = smtp_env(catcher) | {f"SIGNOFF_REPLY_{k}": v for k, v in reply.items()}
    env = stack_env(dev_env, database_url, folder, **settings, SIGNOFF_REPLY_POLL_SECONDS="5")
    queue = env["SIGNOFF_TASK_QUEUE"]
    stack = start_stack(env, folder)
    http = httpx.AsyncClient(base_url=stack.url, timeout=30)
    ours = Replies(stack, http, dev_env.client, imap, gate, catcher, folder)
    try:
        deadline = time.monotonic() + 30
        while await ours.schedule_queue() != queue:  # the worker makes it as it starts
            assert time.monotonic() < deadline, "the worker made no reply Schedule"
            await asyncio.sleep(0.2)
        await ours.pause_schedule()
        yield ours
    finally:
        await http.aclose()
        stack.stop()
        gate.close()
        if await ours.schedule_queue() == queue:
            await ours.schedule.delete()


@pytest.fixture(autouse=True)
async def clean_mailbox(replies: Replies) -> AsyncIterator[None]:
    """What a test leaves unhandled (a failed pass) is not read by the next test."""
    yield
    replies.gate.open()
    replies.imap.mark_all_handled()


def _decisions(state: State) -> list[tuple[str, str, str, str | None]]:
    decisions = state["levels"][0]["decisions"]
    return [(d["actor"], d["kind"], d["via"], d["comment"]) for d in decisions]


async def _decide_signals(client: tc.Client, request_id: str) -> list[dict[str, Any]]:
    history = await client.get_workflow_handle(request_id).fetch_history()
    signals = [e.workflow_execution_signaled_event_attributes for e in history.events]
    return [json.loads(s.input.payloads[0].data) for s in signals if s.signal_name == "decide"]


async def test_approve_by_reply_moves_the_request_on_once(replies: Replies) -> None:
    request_id, original = await replies.ask_alice("2500")
    assert re.fullmatch(r"approvals\+[a-z2-7]{32}@example\.test", str(original["Reply-To"]))
    sent = replies.deliver(original, "APPROVE looks good")

    assert await replies.run_pass() == ProcessRepliesOutput(seen=1, applied=1)
    state = await replies.wait_state(request_id, lambda s: s["current_level"] == 1)
    assert state["levels"][1]["name"] == "Finance"
    assert _decisions(state) == [("acme-alice", "approve", "email", "looks good")]
    [approved] = [e for e in state["audit"] if e["kind"] == "approved"]
    assert approved["detail"]["message_id"] == sent.message_id  # which mail decided, for audit
    assert replies.handled(sent)
    assert f"reply {sent.uid} applied: approve on {request_id}" in replies.log()

    assert await replies.run_pass() == NOTHING
    again = await replies.state(request_id)
    assert again["audit"] == state["audit"] and again["levels"] == state["levels"]
    assert replies.answers(sent) == []


async def test_refused_replies_change_nothing_and_say_why(replies: Replies) -> None:
    request_id, original = await replies.ask_alice("2500")
    alice, auto, unknown = "alice@acme.test", {"Auto-Submitted": "auto-replied"}, "q" * 32
    # (first line, From, To (None: the Reply-To), headers, the reason given)
    cases: list[tuple[str, str, str | None, dict[str, str], str]] = [
        ("APPROVE", "mallory@evil.test", None, {},
         "it did not come from the address of the approver asked"),
        ("APPROVE", alice, f"approvals+{unknown}@example.test", {},
         "its approval address is not valid"),
        ("APPROVE", alice, USERNAME, {}, "it was not sent to a Signoff approval address"),
        ("Looks fine to me, go ahead", alice, None, {},
         "its first line says neither APPROVE nor REJECT"),
        ("REJECT", alice, None, {}, "a rejection needs a reason after REJECT"),
        ("I am out of the office until Monday.", alice, None, auto, ""),  # never answered
    ]  # fmt: skip
    sent = [
        replies.deliver(original, first, sender=sender, to=to, headers=headers)
        for first, sender, to, headers, _ in cases
    ]

    assert await replies.run_pass() == ProcessRepliesOutput(seen=len(cases), refused=len(cases))
    log = replies.log()
    for (_, sender, _, headers, reason), mail in zip(cases, sent, strict=True):
        assert replies.handled(mail)
        assert f"reply {mail.uid} from {sender} refused: {reason}" in log
        if headers:
            assert replies.answers(mail) == [], "an auto-reply is never answered"
            continue
        [answer] = replies.answers(mail)
        assert (answer["To"], answer["Auto-Submitted"]) == (sender, "auto-replied")
        assert f"was not applied because {reason}." in answer.get_content()
    state = await replies.state(request_id)
    assert (state["status"], state["current_level"], _decisions(state)) == ("IN_PROGRESS", 0, [])
    assert "decision_ignored" not in {event["kind"] for event in state["audit"]}


async def test_reject_with_a_reason_rejects_the_request(replies: Replies) -> None:
    request_id, original = await replies.ask_alice("500")
    sent = replies.deliver(original, "reject: over budget, the 13-inch model will do\nthanks")

    assert await replies.run_pass() == ProcessRepliesOutput(seen=1, applied=1)
    state = await replies.wait_state(request_id, lambda s: s["status"] == "REJECTED")
    reason = "over budget, the 13-inch model will do thanks"
    assert _decisions(state) == [("acme-alice", "reject", "email", reason)]
    assert replies.handled(sent)


async def test_reply_after_deciding_in_the_app_is_ignored(replies: Replies) -> None:
    request_id, original = await replies.ask_alice("2500")
    await replies.post("alice@acme.test", request_id, "approve", comment="in the app")
    first = replies.deliver(original, "APPROVE")

    # The token was never used, so the signal goes out; the workflow refuses and tells alice.
    assert await replies.run_pass() == ProcessRepliesOutput(seen=1, applied=1)
    state = await replies.wait_state(
        request_id, lambda s: any(e["kind"] == "decision_ignored" for e in s["audit"])
    )
    [ignored] = [e for e in state["audit"] if e["kind"] == "decision_ignored"]
    assert ignored["actor"] == "acme-alice" and ignored["detail"]["via"] == "email"
    assert _decisions(state) == [("acme-alice", "approve", "api", "in the app")]
    assert replies.handled(first)
    await replies.mail_to_alice(request_id, "Your approve was not applied")

    second = replies.deliver(original, "APPROVE did you get my reply?")
    assert await replies.run_pass() == ProcessRepliesOutput(seen=1, refused=1)
    [answer] = replies.answers(second)
    assert "because this approval was already answered." in answer.get_content()
    assert replies.handled(second)


async def test_an_auto_reply_never_decides_whatever_its_first_word(replies: Replies) -> None:
    request_id, original = await replies.ask_alice("500")
    out_of_office = "No one reads this mailbox until 1 December; call +1 555 0100 if urgent."
    headers = {"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"}
    sent = replies.deliver(original, out_of_office, headers=headers)

    out = await replies.run_pass()
    assert replies.handled(sent)
    assert replies.answers(sent) == []
    await asyncio.sleep(1)  # a wrongly applied signal shows within this
    state = await replies.state(request_id)
    if out.applied or state["status"] != "IN_PROGRESS" or _decisions(state):
        raise Bug(f"the auto-reply decided: {out}, {state['status']}, {_decisions(state)}")


async def test_the_mail_is_flagged_only_after_the_signal_is_durable(replies: Replies) -> None:
    request_id, original = await replies.ask_alice("2500")
    sent = replies.deliver(original, "Approved.")
    replies.gate.hold_at(b"+FLAGS")  # the worker's STORE of $SignoffHandled waits at the gate

    running = asyncio.create_task(replies.run_pass())
    assert await asyncio.to_thread(replies.gate.reached.wait, 30), "the pass never flagged"
    # The flag is on its way but held: by now the decision must be in the request's history.
    signals = await _decide_signals(replies.client, request_id)
    assert len(signals) == 1, "the mail is being flagged before its decision was signalled"
    [signal] = signals
    assert (signal["actor"], signal["kind"], signal["via"]) == ("acme-alice", "approve", "email")
    await replies.wait_state(request_id, lambda s: s["current_level"] == 1)
    assert HANDLED not in replies.imap.flags(sent.uid)

    replies.gate.open()
    assert await running == ProcessRepliesOutput(seen=1, applied=1)
    assert replies.handled(sent)


async def test_crash_between_signal_and_flag_applies_once(replies: Replies) -> None:
    request_id, original = await replies.ask_alice("2500")
    sent = replies.deliver(original, "APPROVE looks good")
    replies.gate.cut_at(b"+FLAGS")  # the connection drops as the worker flags the mail

    await replies.run_pass(retries_ok=True)  # the retried attempt reads the mail again
    assert replies.gate.reached.is_set()
    assert replies.handled(sent)
    state = await replies.wait_state(request_id, lambda s: s["current_level"] == 1)
    assert _decisions(state) == [("acme-alice", "approve", "email", "looks good")]
    assert len(await _decide_signals(replies.client, request_id)) == 1
    if answers := replies.answers(sent):
        raise Bug(f"alice was told her applied reply was not: {answers[0].get_content()!r}")


async def test_reply_to_a_closed_request_blocks_nothing(replies: Replies) -> None:
    withdrawn_id, late_original = await replies.ask_alice("500")
    await replies.post("rita@acme.test", withdrawn_id, "withdraw", reason="not needed")
    open_id, original = await replies.ask_alice("500")
    late = replies.deliver(late_original, "APPROVE")
    good = replies.deliver(original, "APPROVE")

    try:
        await replies.run_pass()
    except PassFailed as failed:
        later = "read" if replies.handled(good) else "left unread"
        raise Bug(f"a reply to a withdrawn request fails the pass, later mail {later}") from failed
    await replies.wait_state(open_id, lambda s: s["status"] == "APPROVED")
    assert replies.handled(late) and replies.handled(good)
    assert (await replies.state(withdrawn_id))["status"] == "WITHDRAWN"
    assert len(replies.answers(late)) == 1


async def test_the_schedule_polls_the_mailbox_on_its_own(replies: Replies) -> None:
    described = await replies.schedule.describe()
    action = described.schedule.action
    assert isinstance(action, tc.ScheduleActionStartWorkflow)
    assert action.workflow == "ReplyPollerWorkflow"
    assert action.task_queue == replies.stack.env["SIGNOFF_TASK_QUEUE"]
    assert [i.every for i in described.schedule.spec.intervals] == [timedelta(seconds=5)]
    assert described.schedule.policy.overlap == tc.ScheduleOverlapPolicy.SKIP
    request_id, original = await replies.ask_alice("500")
    sent = replies.deliver(original, "ok, go ahead")

    await replies.schedule.unpause()
    try:
        state = await replies.wait_state(request_id, lambda s: s["status"] == "APPROVED")
    finally:
        await replies.pause_schedule()
    assert _decisions(state) == [("acme-alice", "approve", "email", "go ahead")]
    assert replies.handled(sent)
