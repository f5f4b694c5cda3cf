"""Notifications as their recipients meet them: e-mails in a real mailbox (reminders with
approve/reject links that work), the in-app inbox, and its live server-sent-events stream."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from store.db import transaction
from store.tables import Delivery
from tests.api.conftest import Stack
from tests.api.notify_fixtures import (
    MAIL_DOMAIN,
    ORG_TIMEZONE,
    Frame,
    NotifyOrg,
    Person,
    action_links,
    collect_frames,
    html_part,
    mail,
    request_state,
    start_request,
    text_part,
    wait_until,
)

if TYPE_CHECKING:  # pytest imports the catcher's module itself, as a plugin
    from tests.api.smtp_catcher import Catcher

pytest_plugins = ["tests.api.smtp_catcher", "tests.api.notify_fixtures"]


async def inbox(
    http: httpx.AsyncClient, org: NotifyOrg, person: Person, **params: Any
) -> dict[str, Any]:
    """A person's inbox page."""
    response = await http.get(
        "/api/v1/notifications", params=params, headers=await org.auth(http, person)
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def inbox_of_size(
    http: httpx.AsyncClient, org: NotifyOrg, person: Person, size: int
) -> list[dict[str, Any]]:
    """The inbox items once there are `size` of them (notifications are sent in the background)."""

    async def probe() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await inbox(http, org, person))["items"]
        return items if len(items) >= size else None

    items = await wait_until(probe, f"{size} notifications for {person.user_id}")
    assert len(items) == size, items
    return items


async def comment(
    http: httpx.AsyncClient, org: NotifyOrg, person: Person, request_id: str, text: str
) -> None:
    """A comment on a request; returns once the API has answered."""
    response = await http.post(
        f"/api/v1/requests/{request_id}/comments",
        json={"text": text},
        headers=await org.auth(http, person),
    )
    assert response.status_code == 200, response.text


async def frame_where(frames: list[Frame], **wanted: object) -> Frame:
    """The first SSE frame whose data has these values, waiting up to 10 s for it."""

    async def probe() -> Frame | None:
        return next((f for f in frames if all(f.data.get(k) == v for k, v in wanted.items())), None)

    return await wait_until(probe, f"an SSE frame with {wanted}", seconds=10)


async def test_a_reminder_reaches_the_approver_with_links_that_work(
    notify_client: httpx.AsyncClient,
    notify_org: NotifyOrg,
    smtp_catcher: Catcher,
    notify_stack: Stack,
) -> None:
    title = "Monitor arm for the front desk"
    request_id = await start_request(notify_client, notify_org, "fast", title)

    assigned = await mail(smtp_catcher, notify_org.ann, f"Approval needed: {title!r}")
    assert "Rita Requester asked for your approval" in text_part(assigned)
    action_links(assigned, notify_stack.url)

    reminder = await mail(smtp_catcher, notify_org.ann, f"Reminder (50%): {title!r}")
    assert reminder.get_content_type() == "multipart/alternative"
    assert reminder["From"] == "Signoff <signoff@signoff.test>"
    assert notify_org.ann.email in str(reminder["To"])
    text, html = text_part(reminder), html_part(reminder)
    assert "50% of the allowed time has passed" in text
    for body in (text, html):
        assert title in body
        assert "Hello Ann Approver" in body

    # The due time is the level's breach deadline, shown in the org's zone (IST, +05:30).
    state = await request_state(notify_client, notify_org, request_id)
    breach = next(d for d in state["levels"][0]["deadlines"] if d["kind"] == "breach")
    due = datetime.fromisoformat(breach["due"])
    shown = f"{due.astimezone(ZoneInfo(ORG_TIMEZONE)):%a %d %b %Y %H:%M} IST"
    assert f"it is due {shown}." in text
    assert f"it is due <b>{shown}</b>" in html
    assert f"{due.astimezone(UTC):%H:%M}" not in text + html

    approve, reject = action_links(reminder, notify_stack.url)
    page = await notify_client.get(approve)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Approve this request?" in page.text and title in page.text
    assert (await request_state(notify_client, notify_org, request_id))["status"] == "IN_PROGRESS"

    done = await notify_client.post(approve, data={"text": "Go ahead"})
    assert done.status_code == 200, done.text
    assert "You approved the request" in done.text
    state = await request_state(notify_client, notify_org, request_id)
    assert state["status"] == "APPROVED"
    decision = state["levels"][0]["decisions"][0]
    assert (decision["actor"], decision["comment"], decision["via"]) == (
        notify_org.ann.user_id,
        "Go ahead",
        "email",
    )
    assert (await notify_client.get(reject)).status_code == 409  # nothing is left to reject

    completed = await mail(smtp_catcher, notify_org.rita, f"{title!r}: approved")
    assert "The request is now APPROVED" in text_part(completed)
    assert "/actions/" not in text_part(completed) + html_part(completed)
    # Reminders go to the approvers still to decide, and to nobody else.
    with smtp_catcher.lock:
        reminded = {
            str(m["To"])
            for m in smtp_catcher.messages
            if "Reminder" in str(m["Subject"]) and notify_org.org_id in str(m["To"])
        }
    assert reminded == {str(reminder["To"])}


async def test_the_inbox_lists_unread_first_and_marks_read(
    notify_client: httpx.AsyncClient, notify_org: NotifyOrg
) -> None:
    first = await start_request(notify_client, notify_org, "slow", "Desk lamp")
    await start_request(notify_client, notify_org, "slow", "Office chair")
    await comment(notify_client, notify_org, notify_org.rita, first, "Any colour is fine")
    items = await inbox_of_size(notify_client, notify_org, notify_org.ann, 3)

    page = await inbox(notify_client, notify_org, notify_org.ann)
    assert page["unread"] == 3
    assert [i["read_at"] for i in items] == [None, None, None]
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)
    assert sorted(i["kind"] for i in items) == ["commented", "level_started", "level_started"]
    subjects = " | ".join(i["subject"] for i in items)
    assert "Approval needed: 'Desk lamp'" in subjects
    assert "Approval needed: 'Office chair'" in subjects
    assert "commented on 'Desk lamp'" in subjects

    ann = await notify_org.auth(notify_client, notify_org.ann)
    newest = items[0]["id"]
    marked = await notify_client.post(f"/api/v1/notifications/{newest}/read", headers=ann)
    assert marked.status_code == 200, marked.text
    assert marked.json()["id"] == newest and marked.json()["read_at"] is not None
    again = await notify_client.post(f"/api/v1/notifications/{newest}/read", headers=ann)
    assert again.status_code == 200 and again.json()["read_at"] == marked.json()["read_at"]

    page = await inbox(notify_client, notify_org, notify_org.ann)
    assert page["unread"] == 2
    # The newest entry is read now, so it comes after the older unread ones.
    assert [i["id"] for i in page["items"]][-1] == newest
    assert [i["read_at"] is None for i in page["items"]] == [True, True, False]
    unread = await inbox(notify_client, notify_org, notify_org.ann, unread_only="true")
    assert [i["id"] for i in unread["items"]] == [i["id"] for i in page["items"][:2]]

    everything = await notify_client.post("/api/v1/notifications/read-all", headers=ann)
    assert everything.status_code == 200 and everything.json() == {"marked": 2}
    page = await inbox(notify_client, notify_org, notify_org.ann)
    assert page["unread"] == 0 and all(i["read_at"] for i in page["items"])
    assert (await inbox(notify_client, notify_org, notify_org.ann, unread_only="true"))[
        "items"
    ] == []
    nothing = await notify_client.post("/api/v1/notifications/read-all", headers=ann)
    assert nothing.json() == {"marked": 0}


async def test_someone_elses_notification_is_not_found(
    notify_client: httpx.AsyncClient, notify_org: NotifyOrg
) -> None:
    request_id = await start_request(notify_client, notify_org, "slow", "Whiteboard")
    await comment(notify_client, notify_org, notify_org.ann, request_id, "Which size?")
    (ritas,) = await inbox_of_size(notify_client, notify_org, notify_org.rita, 1)
    assert ritas["kind"] == "commented"

    for person in (notify_org.ann, notify_org.ben):
        refused = await notify_client.post(
            f"/api/v1/notifications/{ritas['id']}/read",
            headers=await notify_org.auth(notify_client, person),
        )
        assert refused.status_code == 404, refused.text
        assert ritas["id"] not in [
            i["id"] for i in (await inbox(notify_client, notify_org, person))["items"]
        ]
    missing = await notify_client.post(
        "/api/v1/notifications/2147483000/read",
        headers=await notify_org.auth(notify_client, notify_org.rita),
    )
    assert missing.status_code == 404
    assert (await inbox(notify_client, notify_org, notify_org.rita))["items"][0]["read_at"] is None


async def test_the_stream_shows_a_new_notification_within_a_second(
    notify_client: httpx.AsyncClient, notify_org: NotifyOrg
) -> None:
    request_id = await start_request(notify_client, notify_org, "slow", "Standing desk")
    rita = await notify_org.auth(notify_client, notify_org.rita)
    frames: list[Frame] = []
    async with notify_client.stream("GET", "/api/v1/notifications/stream", headers=rita) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        reader = asyncio.create_task(collect_frames(stream, frames))
        try:
            # Rita's own comment notifies ann, not her: it must never show in her stream.
            await comment(notify_client, notify_org, notify_org.rita, request_id, "Any model")
            anns = await inbox_of_size(notify_client, notify_org, notify_org.ann, 2)
            await comment(
                notify_client, notify_org, notify_org.ann, request_id, "Is the height electric?"
            )
            returned = time.monotonic()
            frame = await frame_where(frames, kind="commented", request_id=request_id)
        finally:
            reader.cancel()
    late = frame.arrived - returned
    assert late < 1.0, f"the SSE frame came {late:.2f} s after the comment was answered"
    assert frame.event == "notification" and frame.id == frame.data["id"]
    assert frame.data["read_at"] is None
    assert frame.data["subject"] == f"{notify_org.ann.name} commented on 'Standing desk'"
    # The hub tails rows in id order: ann's entries came before rita's, and were not sent her.
    assert max(i["id"] for i in anns) < frame.id
    assert [f.id for f in frames] == [frame.id]


async def test_last_event_id_replays_what_was_missed(
    notify_client: httpx.AsyncClient, notify_org: NotifyOrg
) -> None:
    request_id = await start_request(notify_client, notify_org, "slow", "Headset")
    rita = await notify_org.auth(notify_client, notify_org.rita)
    frames: list[Frame] = []
    async with notify_client.stream("GET", "/api/v1/notifications/stream", headers=rita) as stream:
        reader = asyncio.create_task(collect_frames(stream, frames))
        try:
            await comment(notify_client, notify_org, notify_org.ann, request_id, "first")
            seen = await frame_where(frames, request_id=request_id)
        finally:
            reader.cancel()

    # Offline: two more comments land in the inbox.
    await comment(notify_client, notify_org, notify_org.ann, request_id, "second")
    await comment(notify_client, notify_org, notify_org.ann, request_id, "third")
    items = await inbox_of_size(notify_client, notify_org, notify_org.rita, 3)
    missed = sorted(i["id"] for i in items if i["id"] != seen.id)
    assert len(missed) == 2 and all(i > seen.id for i in missed)

    replayed: list[Frame] = []
    resumed = rita | {"Last-Event-ID": str(seen.id)}
    async with notify_client.stream(
        "GET", "/api/v1/notifications/stream", headers=resumed
    ) as stream:
        assert stream.status_code == 200
        reader = asyncio.create_task(collect_frames(stream, replayed))
        try:

            async def both() -> bool:
                return len(replayed) >= 2

            await wait_until(both, "the replay of two missed notifications", seconds=5)
            assert [f.id for f in replayed] == missed
            # Live events still follow the replay, each once.
            await comment(notify_client, notify_org, notify_org.ann, request_id, "fourth")

            async def live_one() -> Frame | None:
                return next((f for f in replayed if f.id > max(missed)), None)

            live = await wait_until(live_one, "a live frame after the replay", seconds=10)
        finally:
            reader.cancel()
    assert live.data["kind"] == "commented"
    ids = [f.id for f in replayed]
    assert ids == [*missed, live.id] and seen.id not in ids


@pytest.mark.parametrize("last_event_id", ["99999999999999999999", "-1", "abc", "1e3"])
async def test_a_malformed_last_event_id_still_connects(
    notify_client: httpx.AsyncClient, notify_org: NotifyOrg, last_event_id: str
) -> None:
    """A Last-Event-ID past any id, or not a number, replays nothing and the stream stays up."""
    headers = await notify_org.auth(notify_client, notify_org.rita)
    headers |= {"Last-Event-ID": last_event_id}
    async with notify_client.stream(
        "GET", "/api/v1/notifications/stream", headers=headers
    ) as stream:
        assert stream.status_code == 200
        first = await anext(stream.aiter_lines())
    assert first == ": connected"


async def test_an_email_is_never_sent_twice_for_one_event_and_recipient(
    notify_client: httpx.AsyncClient, notify_org: NotifyOrg, smtp_catcher: Catcher, engine: Engine
) -> None:
    title = "Conference ticket"
    request_id = await start_request(notify_client, notify_org, "slow", title)
    await mail(smtp_catcher, notify_org.ann, f"Approval needed: {title!r}")
    await comment(
        notify_client, notify_org, notify_org.rita, request_id, "Early-bird price ends Friday"
    )
    await comment(notify_client, notify_org, notify_org.ann, request_id, "Looking at it")
    approved = await notify_client.post(
        f"/api/v1/requests/{request_id}/approve",
        json={"comment": "ok"},
        headers=await notify_org.auth(notify_client, notify_org.ann),
    )
    assert approved.status_code == 200, approved.text
    await mail(smtp_catcher, notify_org.rita, f"{title!r}: approved")

    def sent_rows() -> list[Delivery]:
        with transaction(engine) as session:
            rows = session.exec(
                select(Delivery).where(
                    col(Delivery.request_id) == request_id, col(Delivery.channel) == "email"
                )
            ).all()
            return [r for r in rows if r.status == "sent"]

    async def all_sent() -> list[Delivery] | None:
        rows = await asyncio.to_thread(sent_rows)
        return rows if len(rows) == 5 else None

    await wait_until(all_sent, "5 e-mails recorded as sent")
    with smtp_catcher.lock:
        received = list(smtp_catcher.messages)
    mine = [m for m in received if m["X-Signoff-Request"] == request_id]
    subjects = sorted((str(m["To"]).split("<")[1].split("@")[0], str(m["Subject"])) for m in mine)
    assert subjects == sorted(
        [
            ("ann", f"Approval needed: {title!r}"),
            ("ann", f"{notify_org.rita.name} commented on {title!r}"),
            ("rita", f"{notify_org.ann.name} approved {title!r}"),
            ("rita", f"{notify_org.ann.name} commented on {title!r}"),
            ("rita", f"{title!r}: approved"),
        ]
    )
    # Every e-mail of these tests, whatever event sent it, reached its mailbox once.
    ours = [m for m in received if MAIL_DOMAIN in str(m["To"])]
    twice = {k: n for k, n in Counter(str(m["Message-ID"]) for m in ours).items() if n > 1}
    assert not twice, f"sent more than once: {twice}"
