"""An operator finds a breached request in the real Temporal Web UI and reads where it stands.

The dev server of the README (SQLite file, Web UI) runs on free ports with the real worker;
headless Chromium, driven by Playwright, filters the workflow list on `SignoffSla` and opens
the request's current details. Screenshots land in the test's temp folder.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from temporalio.client import Client

from approvals.summary import describe
from bizcal.calendar import BusinessCalendar
from clients.approvals import RequestHandle, read_state, start_request
from schemas.approval import SlaState
from schemas.template import Escalation
from tests.conftest import WorkerFactory
from tests.factories import always_open_calendar, approval_input, level
from tests.webui.devserver import DevServer, dev_server_with_ui

try:
    from playwright.async_api import Locator, Page, async_playwright, expect
except ImportError:  # pragma: no cover - CI installs it with the test dependencies
    pytest.skip("the playwright package is not installed", allow_module_level=True)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BREACHED_QUERY = 'SignoffSla="BREACHED"'
# Seconds of business time the breaching level gets; every hour of its calendar is open.
TAT_SECONDS = 3.6
UI_TIMEOUT_MS = 20_000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"Debian chromium is not installed at {CHROMIUM}"
)


async def _poll(what: str, check: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    """Wait until `check` answers True, or fail saying `what`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def _listed(client: Client, query: str) -> set[str]:
    return {wf.id async for wf in client.list_workflows(query)}


async def _open_until_listed(page: Page, url: str, row: Locator, seconds: float = 30) -> None:
    """Open the list page, reloading while the visibility store has not caught up."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        await page.goto(url)
        try:
            await expect(row).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise


def _assert_png(path: Path) -> None:
    """A real screenshot: PNG signature, a sensible size and more than a blank page's bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 800 and height >= 600, (path, width, height)
    assert len(data) > 20_000, (path, len(data))


def _plain(text: str) -> str:
    """Rendered markdown as plain words: typographic quotes undone, whitespace collapsed."""
    for curly, straight in (("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"')):
        text = text.replace(curly, straight)
    return " ".join(text.split())


async def _start_requests(server: DevServer, task_queue: str) -> tuple[RequestHandle, str]:
    """One request that breaches within seconds and one on track; returns (breached, on track)."""
    calendar = always_open_calendar()
    breaching = approval_input(
        [
            level(
                "Manager",
                ["mia"],
                hours=TAT_SECONDS / 3600,
                escalation=Escalation(action="notify", notify=["ops"]),
            )
        ],
        calendar=calendar,
    )
    on_track = approval_input([level("Manager", ["mia"], hours=100)], calendar=calendar)
    suffix = task_queue[-8:]
    late, _ = await start_request(server.client, task_queue, breaching, f"req-late-{suffix}")
    fine, _ = await start_request(server.client, task_queue, on_track, f"req-fine-{suffix}")
    return late, fine.id


async def test_operator_finds_a_breached_request_and_reads_where_it_stands(
    approval_worker: WorkerFactory, task_queue: str, tmp_path: Path
) -> None:
    async with (
        dev_server_with_ui(tmp_path / "temporal") as server,
        approval_worker(server.client),
    ):
        client = server.client
        late, fine_id = await _start_requests(server, task_queue)

        async def breached() -> bool:
            return (await read_state(late)).sla_state == SlaState.BREACHED

        await _poll("the short TAT to breach", breached)

        async def visible() -> bool:
            return late.id in await _listed(client, BREACHED_QUERY) and fine_id in await _listed(
                client, 'SignoffSla="ON_TRACK"'
            )

        await _poll("the visibility store to show both SLA states", visible)
        state = await read_state(late)
        expected_details = describe(state, BusinessCalendar(always_open_calendar()))

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(UI_TIMEOUT_MS)
            try:
                # The list, filtered on Signoff's SLA attribute as an operator would.
                list_url = (
                    f"{server.ui_url}/namespaces/default/workflows?query={quote(BREACHED_QUERY)}"
                )
                late_row = page.get_by_role("link", name=late.id, exact=True)
                await _open_until_listed(page, list_url, late_row)
                await expect(page.get_by_role("link", name=fine_id, exact=True)).to_have_count(0)
                await page.screenshot(path=tmp_path / "breached-list.png", full_page=True)

                # Into the request: its current details say in words where it stands.
                await late_row.click()
                await expect(page.get_by_role("heading", name=late.id)).to_be_visible()
                await page.get_by_role("tab", name="User Metadata").click()
                await expect(page.get_by_role("heading", name="Current Details")).to_be_visible()
                details = page.frame_locator("#user-metadata-current-details").locator("body")
                for words in (
                    "Level 1 of 1",
                    "Manager",
                    "waits on mia: 0 of 1 approvals",
                    "SLA BREACHED",
                    "has run out",
                ):
                    await expect(details).to_contain_text(words)
                assert _plain(await details.inner_text()) == _plain(expected_details)
                await page.screenshot(path=tmp_path / "breached-request.png", full_page=True)
            except BaseException:
                await page.screenshot(path=tmp_path / "failure.png", full_page=True)
                raise
            finally:
                await browser.close()

    _assert_png(tmp_path / "breached-list.png")
    _assert_png(tmp_path / "breached-request.png")
