"""Shared by the notification and action-link tests: one API + worker stack that mails the
SMTP catcher and links to itself, an org of its own per test (open 24/7, seconds-long TATs),
and helpers to read e-mails, SSE frames and action tokens.

Test modules load it with `pytest_plugins = ["tests.api.smtp_catcher", "tests.api.notify_fixtures"]`
after importing its helpers, too late for pytest to rewrite its asserts (they carry their own
messages): PYTEST_DONT_REWRITE says so, and keeps pytest from warning about it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import col, select
from temporalio.testing import WorkflowEnvironment

from api.security import hash_password
from devstack.demo import DEMO_PASSWORD
from notify.tokens import token_hash
from schemas.calendar import WEEKDAYS, OpeningHours, OrgCalendar
from schemas.template import TemplateSnapshot
from store.db import transaction
from store.tables import ActionToken, Org, Template, User
from store.upsert import insert_missing
from tests.api.conftest import Stack, login, stack_env, start_stack

if TYPE_CHECKING:  # pytest imports the catcher's module itself, as a plugin
    from tests.api.smtp_catcher import Catcher

T = TypeVar("T")

# Open around the clock, in a zone that is not UTC (and has no DST): a due time rendered
# in UTC instead of the org's zone shows.
ORG_TIMEZONE = "Asia/Kolkata"
MAIL_DOMAIN = "notify-tests.test"
FAST_TAT_HOURS = 0.003  # about 11 s: reminders at about 5.4 s (50 %) and 8.1 s (75 %)


@pytest.fixture(scope="session")
def notify_stack(
    dev_env: WorkflowEnvironment,
    database_url: str,
    smtp_catcher: Catcher,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """An API and worker that send e-mail to the catcher and put their own URL in links."""
    from tests.api.smtp_catcher import smtp_env

    folder = tmp_path_factory.mktemp("notify-stack")
    env = stack_env(dev_env, database_url, folder, **smtp_env(smtp_catcher))
    env["SIGNOFF_PUBLIC_URL"] = f"http://127.0.0.1:{env['SIGNOFF_API_PORT']}"
    running = start_stack(env, folder)
    yield running
    running.stop()


@pytest.fixture
async def notify_client(notify_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the notification stack."""
    async with httpx.AsyncClient(base_url=notify_stack.url, timeout=30) as http:
        yield http


@dataclass(frozen=True)
class Person:
    """A user of the test org."""

    user_id: str
    email: str
    name: str


@dataclass
class NotifyOrg:
    """An org of one test: requester rita, approvers ann and ben (level 1), cat (level 2)."""

    org_id: str
    rita: Person
    ann: Person
    ben: Person
    cat: Person
    headers: dict[str, dict[str, str]]

    async def auth(self, http: httpx.AsyncClient, person: Person) -> dict[str, str]:
        """Authorization headers of a user (one login per test and user)."""
        if person.user_id not in self.headers:
            self.headers[person.user_id] = await login(http, person.email)
        return self.headers[person.user_id]


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return hash_password(DEMO_PASSWORD)


def _templates(org: NotifyOrg) -> list[TemplateSnapshot]:
    def level(name: str, users: list[str], hours: float, mode: str = "any") -> dict[str, Any]:
        return {"name": name, "approvers": {"users": users}, "mode": mode, "tat": {"hours": hours}}

    bodies: list[dict[str, Any]] = [
        {
            "key": "fast",
            "name": "Fast check",
            "levels": [level("Quick", [org.ann.user_id], FAST_TAT_HOURS)],
        },
        {"key": "slow", "name": "Slow check", "levels": [level("Review", [org.ann.user_id], 8)]},
        {
            "key": "pair",
            "name": "Two levels",
            "levels": [
                level("Leads", [org.ann.user_id, org.ben.user_id], 8),
                level("Director", [org.cat.user_id], 8),
            ],
        },
    ]
    return [TemplateSnapshot.model_validate(body) for body in bodies]


def create_org(engine: Engine) -> NotifyOrg:
    """A fresh org with its users and templates, written the way the API reads them."""
    org_id = f"nt-{uuid.uuid4().hex[:10]}"

    def person(short: str, name: str) -> Person:
        return Person(f"{org_id}-{short}", f"{short}@{org_id}.{MAIL_DOMAIN}", name)

    org = NotifyOrg(
        org_id=org_id,
        rita=person("rita", "Rita Requester"),
        ann=person("ann", "Ann Approver"),
        ben=person("ben", "Ben Approver"),
        cat=person("cat", "Cat Director"),
        headers={},
    )
    always = [OpeningHours(opens="00:00", closes="24:00")]
    calendar = OrgCalendar(timezone=ORG_TIMEZONE, week={day: list(always) for day in WEEKDAYS})
    now = datetime.now(UTC)
    with transaction(engine) as session:
        insert_missing(
            session,
            Org,
            [
                {
                    "id": org_id,
                    "name": f"Notify {org_id}",
                    "calendar": calendar.model_dump(mode="json"),
                    "created_at": now,
                }
            ],
            ["id"],
        )
        insert_missing(
            session,
            User,
            [
                {
                    "id": p.user_id,
                    "org_id": org_id,
                    "email": p.email,
                    "name": p.name,
                    "roles": ["USER"],
                    "active": True,
                    "password_hash": _password_hash(),
                    "notification_channels": ["inbox", "email"],
                    "failed_logins": 0,
                    "created_at": now,
                }
                for p in (org.rita, org.ann, org.ben, org.cat)
            ],
            ["id"],
        )
        insert_missing(
            session,
            Template,
            [
                {
                    "org_id": org_id,
                    "key": t.key,
                    "version": 1,
                    "name": t.name,
                    "body": t.model_dump(mode="json", exclude={"key", "version"}),
                    "created_by": org.rita.user_id,
                    "created_at": now,
                    "deleted_at": None,
                }
                for t in _templates(org)
            ],
            ["org_id", "key", "version"],
        )
    return org


@pytest.fixture
def notify_org(engine: Engine) -> NotifyOrg:
    """An org of this test's own, so inboxes and mailboxes start empty."""
    return create_org(engine)


# ---- requests ---------------------------------------------------------------------------------


async def start_request(http: httpx.AsyncClient, org: NotifyOrg, template: str, title: str) -> str:
    """Rita starts a request on one of the org's templates; its id."""
    response = await http.post(
        "/api/v1/requests",
        json={"template_key": template, "title": title, "amount": "120", "currency": "EUR"},
        headers=await org.auth(http, org.rita),
    )
    assert response.status_code == 201, response.text
    request_id: str = response.json()["request"]["request_id"]
    return request_id


async def request_state(http: httpx.AsyncClient, org: NotifyOrg, request_id: str) -> dict[str, Any]:
    """The request as its requester reads it from the API."""
    response = await http.get(
        f"/api/v1/requests/{request_id}", headers=await org.auth(http, org.rita)
    )
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()["request"]
    return state


async def wait_until(probe: Callable[[], Awaitable[T | None]], what: str, seconds: float = 15) -> T:
    """Poll `probe` until it returns something truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(0.1)


# ---- e-mails ----------------------------------------------------------------------------------


async def mail(
    catcher: Catcher, to: Person, subject_contains: str, seconds: float = 30
) -> EmailMessage:
    """The first e-mail to a person whose subject contains the text (waits off the loop)."""
    return await asyncio.to_thread(
        catcher.wait_for, to=to.email, subject_contains=subject_contains, seconds=seconds
    )


def text_part(message: EmailMessage) -> str:
    """The plain-text body."""
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage), "no text/plain part"
    content: str = part.get_content()
    return content


def html_part(message: EmailMessage) -> str:
    """The HTML body."""
    part = message.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage), "no text/html part"
    content: str = part.get_content()
    return content


def action_links(message: EmailMessage, base_url: str) -> tuple[str, str]:
    """The approve and reject links of an e-mail: both parts carry the same, on our URL."""
    text = text_part(message)
    approve = re.search(r"^Approve: +(\S+)", text, re.MULTILINE)
    reject = re.search(r"^Reject: +(\S+)", text, re.MULTILINE)
    assert approve and reject, f"no approve/reject links in:\n{text}"
    pattern = re.escape(base_url) + r"/actions/[a-z2-7]{32}"
    for link in (approve[1], reject[1]):
        assert re.fullmatch(pattern, link), link
        assert f'href="{link}"' in html_part(message)
    assert approve[1] != reject[1]
    return approve[1], reject[1]


async def assignment_links(
    catcher: Catcher, base_url: str, to: Person, title: str
) -> tuple[str, str]:
    """Approve and reject links of the e-mail asking `to` to decide on `title`."""
    message = await mail(catcher, to, f"Approval needed: {title!r}")
    return action_links(message, base_url)


def token_of(link: str) -> str:
    """The token at the end of an action link."""
    return link.rsplit("/", 1)[1]


def token_row(engine: Engine, link: str) -> ActionToken:
    """The stored row of an action link's token."""
    with transaction(engine) as session:
        row = session.exec(
            select(ActionToken).where(col(ActionToken.token_hash) == token_hash(token_of(link)))
        ).one()
        session.expunge(row)
        return row


# ---- server-sent events -----------------------------------------------------------------------


@dataclass
class Frame:
    """One SSE event and when it arrived (time.monotonic)."""

    id: int
    event: str
    data: dict[str, Any]
    arrived: float


async def collect_frames(response: httpx.Response, into: list[Frame]) -> None:
    """Append each event of a text/event-stream as it arrives; comments are skipped."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
            continue
        if fields:
            into.append(
                Frame(
                    id=int(fields["id"]),
                    event=fields.get("event", "message"),
                    data=json.loads(fields["data"]),
                    arrived=time.monotonic(),
                )
            )
            fields = {}
