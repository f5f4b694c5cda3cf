"""Outbound webhooks end to end: a real receiver on loopback checks every signature; retries
with backoff, dead letters and replays, the payload, subscriptions, CRUD and the SSRF guard."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.api.conftest import Stack, as_user, login, stack_env, start_purchase, start_stack
from tests.api.webhook_receiver import HOOKS, Hit, Hooks, Receiver, deliveries, wait_delivery

PROBLEM = "application/problem+json"
ADMIN = "admin@acme.test"
# The retry stack's first retry, then 2 s and 4 s. Temporal's dev server retries an activity
# no sooner than about 1 s after it failed, so a shorter first retry would hide the backoff.
FIRST_RETRY = "1"


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """Start receivers on demand; all are stopped after the test."""
    started: list[Receiver] = []

    def make(failures: int = 0, name: str = "hook") -> Receiver:
        started.append(Receiver(failures, name).start())
        return started[-1]

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
async def hooks(http: httpx.AsyncClient) -> AsyncIterator[Hooks]:
    """Webhooks of the test, deleted afterwards."""
    made = Hooks()
    yield made
    await made.delete_all(http, await as_user(http, ADMIN))


def own_stack(
    dev_env: WorkflowEnvironment, database_url: str, folder: Path, **extra: str
) -> Iterator[Stack]:
    """An API and worker of the module's own on the shared database, stopped afterwards."""
    running = start_stack(stack_env(dev_env, database_url, folder, **extra), folder)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def retry_stack(
    stack: Stack,  # seeds the demo users into the database shared with this API
    dev_env: WorkflowEnvironment,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Tries a delivery five times."""
    env = {"SIGNOFF_WEBHOOK_MAX_ATTEMPTS": "5", "SIGNOFF_WEBHOOK_FIRST_RETRY_SECONDS": FIRST_RETRY}
    yield from own_stack(dev_env, database_url, tmp_path_factory.mktemp("retries"), **env)


@pytest.fixture(scope="module")
def guarded_stack(
    stack: Stack,
    dev_env: WorkflowEnvironment,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Refuses webhook targets inside the network (the default setting)."""
    guarded = {"SIGNOFF_WEBHOOK_ALLOW_PRIVATE": "false"}
    yield from own_stack(dev_env, database_url, tmp_path_factory.mktemp("ssrf"), **guarded)


def request_id_of(started: dict[str, Any]) -> str:
    """The id of a request from the answer that started it."""
    return str(started["request"]["request_id"])


async def test_a_webhook_receiver_that_fails_three_times_then_succeeds_signed_every_time(
    retry_stack: Stack, receivers: Callable[..., Receiver], hooks: Hooks
) -> None:
    async with httpx.AsyncClient(base_url=retry_stack.url, timeout=30) as api:
        admin = await login(api, ADMIN)
        rita = await login(api, "rita@acme.test")
        receiver = receivers(failures=3, name="flaky")
        hook = await hooks.create(api, admin, receiver, ["request.level_started"])
        request_id = request_id_of(await start_purchase(api, rita, title="Webhook backoff"))

        hits = await receiver.wait_for(
            lambda hs: any(h.answered == 200 for h in hs),
            request_id=request_id,
            what="a fourth, successful attempt",
        )
        assert [h.answered for h in hits] == [500, 500, 500, 200]
        assert all(h.signature_ok for h in hits), [h.headers for h in hits]
        assert len({(h.delivery, h.body) for h in hits}) == 1 and hits[0].delivery
        assert {h.headers["x-signoff-event"] for h in hits} == {"request.level_started"}

        # Exponential backoff: 1 s, 2 s, 4 s between attempts, never shorter, and each
        # gap longer than the one before by at least half of the expected growth.
        gaps = [later.at - earlier.at for earlier, later in zip(hits, hits[1:], strict=False)]
        expected = [float(FIRST_RETRY) * 2**n for n in range(3)]
        for gap, want in zip(gaps, expected, strict=True):
            assert gap >= want * 0.9, (gaps, expected)
        for n in range(2):
            assert gaps[n + 1] - gaps[n] >= (expected[n + 1] - expected[n]) / 2, gaps

        delivered = await wait_delivery(api, admin, hook["id"], hits[0].delivery, "delivered")
        assert delivered["attempts"] == 4
        assert delivered["last_error"] is None and delivered["finished_at"] is not None
        assert len(receiver.hits(request_id)) == 4  # nothing after the success


async def test_a_dead_letter_is_kept_and_an_admin_replays_it(
    http: httpx.AsyncClient, receivers: Callable[..., Receiver], hooks: Hooks
) -> None:
    admin = await as_user(http, ADMIN)
    rita = await as_user(http, "rita@acme.test")
    receiver = receivers(name="down")
    receiver.fail_always()
    receiver.hold()  # the first attempt waits for an answer: the delivery is pending
    hook = await hooks.create(http, admin, receiver, ["request.level_started"])
    request_id = request_id_of(await start_purchase(http, rita, title="Webhook dead letter"))

    try:
        first = await receiver.wait_for(bool, request_id=request_id, what="a first attempt")
        delivery_id = first[0].delivery
        pending = await http.post(f"{HOOKS}/deliveries/{delivery_id}/replay", headers=admin)
        assert pending.status_code == 409, pending.text
        assert pending.headers["content-type"] == PROBLEM
    finally:
        receiver.release()

    dead = await wait_delivery(http, admin, hook["id"], delivery_id, "dead")
    assert dead["attempts"] == 2 and dead["replay_of"] is None
    assert dead["last_error"] and "500" in dead["last_error"], dead
    attempts = receiver.hits(request_id)
    assert [h.answered for h in attempts] == [500, 500]
    assert all(h.signature_ok and h.delivery == delivery_id for h in attempts)
    letters = await deliveries(http, admin, hook["id"], request_id, status="dead")
    assert [d["id"] for d in letters] == [delivery_id]
    assert await deliveries(http, admin, hook["id"], request_id, status="pending") == []

    # Other orgs and other roles never reach it.
    globex = await as_user(http, "admin@globex.test")
    foreign = await http.post(f"{HOOKS}/deliveries/{delivery_id}/replay", headers=globex)
    assert foreign.status_code == 404, foreign.text
    user = await http.post(f"{HOOKS}/deliveries/{delivery_id}/replay", headers=rita)
    assert user.status_code == 403, user.text
    unknown = await http.post(f"{HOOKS}/deliveries/no-such-delivery/replay", headers=admin)
    assert unknown.status_code == 404

    receiver.recover()
    replay = await http.post(f"{HOOKS}/deliveries/{delivery_id}/replay", headers=admin)
    assert replay.status_code == 202, replay.text
    again = replay.json()
    assert again["replay_of"] == delivery_id and again["id"] != delivery_id
    assert again["status"] == "pending" and again["event_type"] == "request.level_started"
    assert again["payload"] == dead["payload"]

    hits = await receiver.wait_for(
        lambda hs: any(h.delivery == again["id"] for h in hs),
        request_id=request_id,
        what="the replayed delivery",
    )
    replayed = [h for h in hits if h.delivery == again["id"]]
    assert len(replayed) == 1 and replayed[0].signature_ok and replayed[0].answered == 200
    assert replayed[0].json() == dead["payload"]
    assert replayed[0].headers["x-signoff-event"] == "request.level_started"
    done = await wait_delivery(http, admin, hook["id"], again["id"], "delivered")
    assert done["attempts"] == 1 and done["replay_of"] == delivery_id
    still = await deliveries(http, admin, hook["id"], request_id, status="dead")
    assert [d["id"] for d in still] == [delivery_id]  # the dead letter stays as it was


def check_payload(hit: Hit, request_id: str, title: str) -> dict[str, Any]:
    """The body and headers of one webhook request, as API.md and the schema describe them."""
    assert hit.signature_ok, hit.headers
    assert hit.headers["content-type"].startswith("application/json")
    assert abs(int(hit.headers["x-signoff-timestamp"]) - time.time()) < 300
    payload = hit.json()
    assert payload.keys() >= {"id", "type", "created_at", "org_id", "request", "event"}, payload
    assert payload["id"] == hit.delivery
    assert payload["type"] == hit.headers["x-signoff-event"]
    assert datetime.fromisoformat(payload["created_at"]).tzinfo is not None
    assert payload["org_id"] == "acme"
    request = payload["request"]
    assert request["request_id"] == request_id and request["title"] == title
    assert request["requester"] == "acme-rita" and request["status"]
    assert "org_id" not in request and "timezone" not in request
    event = payload["event"]
    assert isinstance(event["seq"], int) and event["actor"]
    assert payload["type"] == f"request.{event['kind']}"
    assert "recipients" not in event
    return dict(payload)


async def test_the_payload_and_only_subscribed_event_types_reach_a_webhook(
    http: httpx.AsyncClient, receivers: Callable[..., Receiver], hooks: Hooks
) -> None:
    admin = await as_user(http, ADMIN)
    rita = await as_user(http, "rita@acme.test")
    everything = receivers(name="everything")
    completions = receivers(name="completions")
    inactive = receivers(name="inactive")
    every_hook = await hooks.create(http, admin, everything, ["*"])
    done_hook = await hooks.create(http, admin, completions, ["request.completed"])
    off_hook = await hooks.create(http, admin, inactive, ["*"], active=False)
    title = "Webhook payload"
    request_id = request_id_of(await start_purchase(http, rita, title=title))

    level = await everything.wait_event("request.level_started", request_id)
    payload = check_payload(level, request_id, title)
    assert payload["request"]["status"] == "IN_PROGRESS"
    assert payload["event"]["kind"] == "level_started"
    started = everything.hits(request_id)
    assert len({h.delivery for h in started}) == len(started)  # one delivery per event
    # The deliveries of an event to every webhook are stored together: none for the others.
    rows = await deliveries(http, admin, every_hook["id"], request_id)
    assert "request.level_started" in {d["event_type"] for d in rows}
    assert await deliveries(http, admin, done_hook["id"], request_id) == []
    assert completions.hits(request_id) == []

    withdrawn = await http.post(
        f"/api/v1/requests/{request_id}/withdraw", json={"reason": "not needed"}, headers=rita
    )
    assert withdrawn.status_code == 200, withdrawn.text
    completed = await completions.wait_for(bool, request_id=request_id, what="request.completed")
    await everything.wait_event("request.completed", request_id)
    assert len(completed) == 1 and completed[0].headers["x-signoff-event"] == "request.completed"
    body = check_payload(completed[0], request_id, title)
    assert body["event"]["kind"] == "completed" and body["request"]["status"] == "WITHDRAWN"
    rows = await deliveries(http, admin, done_hook["id"], request_id)
    assert [d["event_type"] for d in rows] == ["request.completed"]
    assert completions.hits(request_id) == completed

    assert inactive.hits() == []
    off = await http.get(f"{HOOKS}/{off_hook['id']}/deliveries", headers=admin)
    assert off.status_code == 200 and off.json() == []


async def test_webhook_crud_is_for_admins_of_the_org_and_shows_the_secret_once(
    http: httpx.AsyncClient, hooks: Hooks
) -> None:
    admin = await as_user(http, ADMIN)
    url = "https://hooks.example.test/signoff"
    hook = await hooks.create(http, admin, url, ["request.completed"])
    hook_id, secret = hook["id"], hook["secret"]
    assert isinstance(secret, str) and len(secret) >= 32
    assert hook["url"] == url and hook["event_types"] == ["request.completed"] and hook["active"]

    one = await http.get(f"{HOOKS}/{hook_id}", headers=admin)
    listed = await http.get(HOOKS, headers=admin)
    patched = await http.patch(
        f"{HOOKS}/{hook_id}",
        json={"url": url + "/v2", "event_types": ["request.approved", "*"], "active": False},
        headers=admin,
    )
    for response in (one, listed, patched):
        assert response.status_code == 200, response.text
        assert secret not in response.text
    assert one.json().get("secret") is None and one.json()["url"] == url
    assert [h.get("secret") for h in listed.json() if h["id"] == hook_id] == [None]
    assert patched.json() | {"secret": None} == {
        "id": hook_id,
        "url": url + "/v2",
        "event_types": ["*", "request.approved"],
        "active": False,
        "created_at": hook["created_at"],
        "secret": None,
    }
    reread = await http.get(f"{HOOKS}/{hook_id}", headers=admin)
    assert reread.json()["active"] is False and reread.json()["url"] == url + "/v2"

    for body in (
        {"url": url, "event_types": ["request.nope"]},
        {"url": url, "event_types": []},
        {"url": "ftp://example.test/hook", "event_types": ["*"]},
        {"url": "file:///etc/passwd", "event_types": ["*"]},
        {"url": "not a url", "event_types": ["*"]},
    ):
        refused = await http.post(HOOKS, json=body, headers=admin)
        assert refused.status_code == 422, (body, refused.text)
        assert refused.headers["content-type"] == PROBLEM
    bad_patch = await http.patch(
        f"{HOOKS}/{hook_id}", json={"event_types": ["request.nope"]}, headers=admin
    )
    assert bad_patch.status_code == 422

    # Only ADMINs; another org's webhook does not exist for its admin.
    one_hook = [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/deliveries")]
    calls = [(m, f"{HOOKS}/{hook_id}{tail}") for m, tail in one_hook]
    change = {"url": url, "event_types": ["*"]}
    for email in ("alice@acme.test", "manager@acme.test", "rita@acme.test"):
        user = await as_user(http, email)
        for method, path in [("POST", HOOKS), ("GET", HOOKS), *calls]:
            answer = await http.request(method, path, json=change, headers=user)
            assert answer.status_code == 403, (email, method, path, answer.text)
    assert (await http.get(HOOKS)).status_code == 401
    globex = await as_user(http, "admin@globex.test")
    for method, path in calls:
        answer = await http.request(method, path, json=change, headers=globex)
        assert answer.status_code == 404, (method, path, answer.text)
    theirs = await http.get(HOOKS, headers=globex)
    assert hook_id not in {h["id"] for h in theirs.json()}

    deleted = await http.delete(f"{HOOKS}/{hook_id}", headers=admin)
    assert deleted.status_code == 204
    assert (await http.get(f"{HOOKS}/{hook_id}", headers=admin)).status_code == 404
    assert (await http.delete(f"{HOOKS}/{hook_id}", headers=admin)).status_code == 404
    assert hook_id not in {h["id"] for h in (await http.get(HOOKS, headers=admin)).json()}


async def test_webhook_targets_inside_the_network_are_refused(
    guarded_stack: Stack, hooks: Hooks
) -> None:
    async with httpx.AsyncClient(base_url=guarded_stack.url, timeout=30) as api:
        admin = await login(api, ADMIN)
        for url in (
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://10.0.0.1/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://192.168.1.10/hook",
            "http://[::1]/hook",
            "http://0.0.0.0/hook",
        ):
            refused = await api.post(HOOKS, json={"url": url, "event_types": ["*"]}, headers=admin)
            assert refused.status_code == 422, (url, refused.text)
            assert refused.headers["content-type"] == PROBLEM
        # A public address is accepted; moving it inside the network is refused too.
        public = "http://93.184.215.14/hook"
        hook = await hooks.create(api, admin, public, ["request.completed"])
        moved = await api.patch(
            f"{HOOKS}/{hook['id']}", json={"url": "http://localhost:9/x"}, headers=admin
        )
        assert moved.status_code == 422, moved.text
        kept = await api.get(f"{HOOKS}/{hook['id']}", headers=admin)
        assert kept.json()["url"] == public


async def test_shared_address_space_targets_are_refused(guarded_stack: Stack, hooks: Hooks) -> None:
    async with httpx.AsyncClient(base_url=guarded_stack.url, timeout=30) as api:
        admin = await login(api, ADMIN)
        # Alibaba Cloud's metadata service; 100.64.0.0/10 is carrier-grade NAT, never global.
        body = {"url": "http://100.100.100.200/latest/meta-data/", "event_types": ["*"]}
        refused = await api.post(HOOKS, json=body | {"active": False}, headers=admin)
        if refused.status_code == 201:
            hooks.ids.append(refused.json()["id"])
        assert refused.status_code == 422, refused.text


async def test_the_webhook_list_is_paginated(http: httpx.AsyncClient, hooks: Hooks) -> None:
    admin = await as_user(http, ADMIN)
    for n in range(2):
        await hooks.create(http, admin, f"https://hooks.example.test/{n}", ["*"], active=False)
    page = await http.get(HOOKS, params={"limit": 1}, headers=admin)
    assert page.status_code == 200, page.text
    body = page.json()
    assert len(body["items"] if isinstance(body, dict) else body) == 1, body


async def test_a_long_webhook_url_is_stored_or_refused_never_a_500(
    http: httpx.AsyncClient, hooks: Hooks
) -> None:
    admin = await as_user(http, ADMIN)
    url = "https://hooks.example.test/" + "a" * 2040  # 2067 characters, HttpUrl allows 2083
    created = await http.post(
        HOOKS, json={"url": url, "event_types": ["*"], "active": False}, headers=admin
    )
    assert created.status_code in (201, 422), created.text
    if created.status_code == 201:
        hooks.ids.append(created.json()["id"])
        again = await http.get(f"{HOOKS}/{created.json()['id']}", headers=admin)
        assert again.json()["url"] == url
