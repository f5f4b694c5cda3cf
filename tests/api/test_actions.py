"""E-mailed approve/reject links as an approver (and their mail scanner) use them: GET only
shows a confirmation page, POST acts once; used, expired, unknown and stale links say why."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select, update

from notify.tokens import token_hash
from store.db import transaction
from store.tables import ActionToken, AuditRecord
from tests.api.conftest import Stack
from tests.api.notify_fixtures import (
    NotifyOrg,
    action_links,
    assignment_links,
    html_part,
    mail,
    request_state,
    start_request,
    text_part,
    token_of,
    token_row,
)

if TYPE_CHECKING:  # pytest imports the catcher's module itself, as a plugin
    from tests.api.smtp_catcher import Catcher

pytest_plugins = ["tests.api.smtp_catcher", "tests.api.notify_fixtures"]


def assert_page(response: httpx.Response, status: int, *texts: str) -> None:
    """An HTML page with this status, never cached, saying these things."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.text.lstrip().lower().startswith("<!doctype html>")
    for text in texts:
        assert text in response.text, f"{text!r} not in:\n{response.text}"


async def test_a_link_fetched_twice_then_posted_twice_acts_once(
    notify_client: httpx.AsyncClient,
    notify_org: NotifyOrg,
    smtp_catcher: Catcher,
    notify_stack: Stack,
    engine: Engine,
) -> None:
    title = "Printer toner"
    request_id = await start_request(notify_client, notify_org, "slow", title)
    approve, _ = await assignment_links(smtp_catcher, notify_stack.url, notify_org.ann, title)
    before = await request_state(notify_client, notify_org, request_id)

    for _ in range(2):  # the approver, and a mail scanner before them
        page = await notify_client.get(approve)
        assert_page(page, 200, "Approve this request?", title, '<form method="post">')
    after = await request_state(notify_client, notify_org, request_id)
    assert after["status"] == "IN_PROGRESS"
    assert after["levels"][0]["decisions"] == []
    assert [e["seq"] for e in after["audit"]] == [e["seq"] for e in before["audit"]]
    assert token_row(engine, approve).used_at is None

    first = await notify_client.post(approve, data={"text": "Needed for the audit"})
    assert_page(first, 200, "You approved the request", "APPROVED")
    state = await request_state(notify_client, notify_org, request_id)
    assert state["status"] == "APPROVED"
    assert token_row(engine, approve).used_at is not None
    # The audit trail (read model, as GET /audit exports it) says where the click came from.
    with Session(engine) as session:
        [approved] = session.exec(
            select(AuditRecord).where(
                col(AuditRecord.request_id) == request_id, col(AuditRecord.kind) == "approved"
            )
        )
    assert (approved.actor, approved.detail["via"]) == (notify_org.ann.user_id, "email")
    assert approved.detail["ip"] == "127.0.0.1"

    second = await notify_client.post(approve, data={"text": "Again"})
    assert_page(second, 409, "Link already used")
    state = await request_state(notify_client, notify_org, request_id)
    assert state["status"] == "APPROVED"
    assert [d["comment"] for d in state["levels"][0]["decisions"]] == ["Needed for the audit"]
    assert [e["kind"] for e in state["audit"]].count("approved") == 1
    assert_page(await notify_client.get(approve), 409, "Link already used")


async def test_an_expired_link_answers_410_and_changes_nothing(
    notify_client: httpx.AsyncClient,
    notify_org: NotifyOrg,
    smtp_catcher: Catcher,
    notify_stack: Stack,
    engine: Engine,
) -> None:
    title = "Visitor badges"
    request_id = await start_request(notify_client, notify_org, "slow", title)
    approve, reject = await assignment_links(smtp_catcher, notify_stack.url, notify_org.ann, title)
    stored = token_row(engine, approve)
    assert stored.expires_at > datetime.now(UTC) + timedelta(days=6)  # a week by default

    with transaction(engine) as session:
        session.exec(
            update(ActionToken)
            .where(col(ActionToken.token_hash).in_([token_hash(token_of(approve))]))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert_page(await notify_client.get(approve), 410, "expired", title)
    assert_page(await notify_client.post(approve, data={"text": "late"}), 410, "expired")
    assert (await request_state(notify_client, notify_org, request_id))["status"] == "IN_PROGRESS"
    assert token_row(engine, approve).used_at is None
    # The other link of the same e-mail has its own expiry and still works.
    assert_page(await notify_client.get(reject), 200, "Reject this request?")


async def test_an_unknown_link_answers_404(
    notify_client: httpx.AsyncClient, notify_stack: Stack
) -> None:
    unknown = f"{notify_stack.url}/actions/{secrets.token_hex(16)}"
    assert_page(await notify_client.get(unknown), 404, "not valid")
    assert_page(await notify_client.post(unknown, data={"text": "yes"}), 404, "not valid")


async def test_a_link_whose_level_has_moved_on_answers_409(
    notify_client: httpx.AsyncClient,
    notify_org: NotifyOrg,
    smtp_catcher: Catcher,
    notify_stack: Stack,
    engine: Engine,
) -> None:
    title = "Team offsite venue"
    request_id = await start_request(notify_client, notify_org, "pair", title)
    anns, _ = await assignment_links(smtp_catcher, notify_stack.url, notify_org.ann, title)
    bens_approve, bens_reject = await assignment_links(
        smtp_catcher, notify_stack.url, notify_org.ben, title
    )

    assert_page(await notify_client.post(anns), 200, "You approved the request")
    # Level 1 needed one of them: it is done, and the director is asked now.
    await assignment_links(smtp_catcher, notify_stack.url, notify_org.cat, title)

    for link in (bens_approve, bens_reject):
        assert_page(await notify_client.get(link), 409, "Level L1 has moved on", title)
        assert_page(
            await notify_client.post(link, data={"text": "Too expensive"}),
            409,
            "Level L1 has moved on",
        )
    state = await request_state(notify_client, notify_org, request_id)
    assert state["status"] == "IN_PROGRESS" and state["current_level"] == 1
    assert [d["actor"] for d in state["levels"][0]["decisions"]] == [notify_org.ann.user_id]
    assert state["levels"][1]["decisions"] == []
    assert token_row(engine, bens_approve).used_at is None


async def test_a_reject_link_needs_a_reason(
    notify_client: httpx.AsyncClient,
    notify_org: NotifyOrg,
    smtp_catcher: Catcher,
    notify_stack: Stack,
    engine: Engine,
) -> None:
    title = "Espresso machine"
    request_id = await start_request(notify_client, notify_org, "slow", title)
    _, reject = await assignment_links(smtp_catcher, notify_stack.url, notify_org.ann, title)
    assert_page(await notify_client.get(reject), 200, "Reject this request?", 'name="text"')

    for empty in ({}, {"text": ""}, {"text": "   \n "}):
        answer = await notify_client.post(reject, data=empty)
        assert_page(answer, 422, "A reason is needed", '<form method="post">', title)
    assert (await request_state(notify_client, notify_org, request_id))["status"] == "IN_PROGRESS"
    assert token_row(engine, reject).used_at is None

    reason = "The kitchen already has one"
    assert_page(
        await notify_client.post(reject, data={"text": reason}), 200, "You rejected the request"
    )
    state = await request_state(notify_client, notify_org, request_id)
    assert state["status"] == "REJECTED"
    assert state["outcome_reason"] == reason
    decision = state["levels"][0]["decisions"][0]
    assert (decision["actor"], decision["kind"], decision["comment"], decision["via"]) == (
        notify_org.ann.user_id,
        "reject",
        reason,
        "email",
    )
    told = await mail(smtp_catcher, notify_org.rita, f"{title!r}: rejected")
    assert f"The request is now REJECTED: {reason}." in text_part(told)


async def test_a_rejection_tells_the_other_approver_of_the_level(
    notify_client: httpx.AsyncClient,
    notify_org: NotifyOrg,
    smtp_catcher: Catcher,
    notify_stack: Stack,
) -> None:
    title = "Trade fair booth"
    await start_request(notify_client, notify_org, "pair", title)
    _, reject = await assignment_links(smtp_catcher, notify_stack.url, notify_org.ann, title)
    await assignment_links(smtp_catcher, notify_stack.url, notify_org.ben, title)
    answer = await notify_client.post(reject, data={"text": "Not this year"})
    assert_page(answer, 200, "You rejected the request")

    await mail(smtp_catcher, notify_org.rita, f"{title!r}: rejected")
    # Ben was asked to decide and had not: he hears that it is over (completed -> requester
    # and the level's pending approvers), in his mailbox.
    told = await mail(smtp_catcher, notify_org.ben, f"{title!r}: rejected", seconds=5)
    assert "The request is now REJECTED: Not this year." in text_part(told)


async def test_pages_and_emails_escape_user_text(
    notify_client: httpx.AsyncClient,
    notify_org: NotifyOrg,
    smtp_catcher: Catcher,
    notify_stack: Stack,
) -> None:
    title = '<script>alert("x")</script> Tom & Jerry'
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Tom &amp; Jerry"
    await start_request(notify_client, notify_org, "slow", title)
    message = await mail(smtp_catcher, notify_org.ann, "Approval needed: ")
    assert title in text_part(message)  # plain text stays as written
    assert "<script>" not in html_part(message) and "&lt;script&gt;" in html_part(message)
    approve, reject = await assignment_links(smtp_catcher, notify_stack.url, notify_org.ann, title)

    pages = [
        (await notify_client.get(approve), 200),
        (await notify_client.get(reject), 200),
        (await notify_client.post(reject, data={"text": ""}), 422),
        (await notify_client.post(approve, data={"text": "<b>fine</b>"}), 200),
        (await notify_client.post(approve), 409),
        (await notify_client.get(reject), 409),
    ]
    for page, status in pages:
        assert_page(page, status, escaped)
        assert "<script>" not in page.text


async def test_a_double_click_acts_once(
    notify_client: httpx.AsyncClient,
    notify_org: NotifyOrg,
    smtp_catcher: Catcher,
    notify_stack: Stack,
) -> None:
    title = "Parking permit"
    request_id = await start_request(notify_client, notify_org, "slow", title)
    approve, _ = await assignment_links(smtp_catcher, notify_stack.url, notify_org.ann, title)
    answers = await asyncio.gather(
        *(notify_client.post(approve, data={"text": "ok"}) for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    state = await request_state(notify_client, notify_org, request_id)
    assert state["status"] == "APPROVED" and len(state["levels"][0]["decisions"]) == 1


async def test_a_reminder_carries_links_that_work_when_the_first_ones_expired(
    notify_client: httpx.AsyncClient,
    notify_org: NotifyOrg,
    smtp_catcher: Catcher,
    notify_stack: Stack,
    engine: Engine,
) -> None:
    # As when a level's TAT outlasts SIGNOFF_ACTION_LINK_DAYS: by the time a reminder goes
    # out, the assignment e-mail's links have expired.
    title = "Long-running licence"
    request_id = await start_request(notify_client, notify_org, "fast", title)
    first, _ = await assignment_links(smtp_catcher, notify_stack.url, notify_org.ann, title)
    with transaction(engine) as session:
        session.exec(
            update(ActionToken)
            .where(col(ActionToken.request_id) == request_id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert_page(await notify_client.get(first), 410, "expired")

    reminder = await mail(smtp_catcher, notify_org.ann, f"Reminder (50%): {title!r}")
    approve, _ = action_links(reminder, notify_stack.url)
    assert_page(await notify_client.get(approve), 200, "Approve this request?")
    assert_page(await notify_client.post(approve), 200, "You approved the request")
    assert (await request_state(notify_client, notify_org, request_id))["status"] == "APPROVED"
