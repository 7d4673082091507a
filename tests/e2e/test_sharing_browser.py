"""Sharing in a real Chromium against a hub in accounts mode (Redis store): alice shares a
session with bob as a viewer, and bob watches it read-only; a read-only link opened in a
browser with no account watches it live, and says so once alice revokes it; logging out
leads back to the login page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.e2e.browser_tasks import build_browser_hub
from tests.e2e.conftest import bounded, log_in_page
from tests.support.accounts import add_accounts
from tests.support.server import RunningHub, run_hub
from tether.config import Settings
from tether.users import UserRecord


@pytest.fixture
async def hub(hub_settings: Settings) -> AsyncIterator[RunningHub]:
    """The browser hub with two accounts, ``alice`` and ``bob``."""
    await add_accounts(hub_settings, (UserRecord(name="alice"), UserRecord(name="bob")))
    async with run_hub(hub_settings, build_browser_hub()) as running:
        yield running


class People:
    """Browser contexts made by the test, each its own person (own cookies)."""

    def __init__(self, browser: Browser, hub: RunningHub) -> None:
        self.browser = browser
        self.hub = hub
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    async def page(self) -> Page:
        ctx = await self.browser.new_context(
            base_url=self.hub.base_url, viewport={"width": 1100, "height": 860}
        )
        self.contexts.append(ctx)
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        return page


@pytest.fixture
async def people(browser: Browser, hub: RunningHub) -> AsyncIterator[People]:
    made = People(browser, hub)
    yield made
    for ctx in made.contexts:
        await bounded(ctx.close(), "closing a browser context")
    assert made.errors == [], f"uncaught errors in the pages: {made.errors}"


async def test_share_with_a_viewer_and_by_a_link_then_revoke_and_log_out(
    hub: RunningHub, people: People
) -> None:
    alice = await people.page()
    await log_in_page(alice, "alice")
    started = await alice.request.post(
        "/api/sessions", data={"task": "two_questions", "inputs": {}}
    )
    assert started.status == 201, await started.text()
    session_id = (await started.json())["id"]

    # alice, the owner: her question opens by itself; she puts it aside and shares.
    await alice.goto(f"/sessions/{session_id}")
    await expect(alice.locator("dialog[open][data-kind]")).to_be_visible()
    await alice.keyboard.press("Escape")
    await expect(alice.get_by_role("button", name="Cancel task")).to_be_visible()
    await expect(alice.get_by_test_id("read-only")).to_have_count(0)
    await alice.get_by_role("button", name="Share", exact=True).click()
    share = alice.get_by_role("dialog", name="Share this session")
    await expect(share.get_by_text("Shared with nobody yet.")).to_be_visible()
    await share.get_by_label("Share with").fill("team:x")
    await share.get_by_role("button", name="Share", exact=True).click()
    await expect(share.get_by_text("Share with user:NAME or group:NAME.")).to_be_visible()
    await share.get_by_label("Share with").fill("bob")  # a bare name is a user
    await share.get_by_label("Role").select_option("viewer")
    await share.get_by_role("button", name="Share", exact=True).click()
    await expect(share.locator('[data-share="user:bob"]')).to_contain_text("can watch")

    # bob, a viewer: the session is in his "Shared with me" list and shows read-only.
    bob = await people.page()
    await log_in_page(bob, "bob")
    await bob.goto("/sessions")
    await bob.get_by_role("link", name="Shared with me").click()
    await expect(bob).to_have_url(re.compile(r"/sessions\?scope=shared$"))
    row = bob.locator(f'[data-session="{session_id}"]')
    await expect(row).to_contain_text("by alice")
    await expect(row).to_contain_text("2 waiting")
    await row.click()
    await expect(bob.get_by_test_id("read-only")).to_be_visible()
    await expect(bob.locator(".request-item")).to_have_count(2)
    waiting = bob.get_by_role("heading", name=re.compile("Waiting for an answer"))
    await expect(waiting).to_be_visible()
    await expect(bob.get_by_role("button", name="Answer")).to_have_count(0)
    await expect(bob.get_by_role("button", name="Cancel task")).to_have_count(0)
    await expect(bob.get_by_role("button", name="Share", exact=True)).to_have_count(0)
    await expect(bob.locator("dialog[open]")).to_have_count(0)
    await expect(bob.get_by_text("Shared with you by a link.")).to_have_count(0)
    await expect(bob.locator(".nav-count")).to_have_count(0)  # nothing waits for bob

    # alice makes a read-only link for an hour.
    await share.get_by_label("Valid for").select_option(label="1 hour")
    await share.get_by_role("button", name="Create link").click()
    address = await share.get_by_test_id("new-link").input_value()
    assert address.startswith(f"{hub.base_url}/sessions/{session_id}?link=")
    await expect(share.locator("[data-link]")).to_have_count(1)
    await expect(share.locator("[data-link]")).to_contain_text("expires in 59 min")

    # Someone with no account opens it: live, read-only, and the token rides only on the
    # session's own requests.
    guest = await people.page()
    token = address.split("link=", 1)[1]
    sockets: list[str] = []
    fetched: list[str] = []
    guest.on("websocket", lambda ws: sockets.append(ws.url))
    guest.on("request", lambda r: fetched.append(r.url) if "/api/" in r.url else None)
    await guest.goto(address)
    await expect(guest.get_by_text("Shared with you by a link.")).to_be_visible()
    await expect(guest.get_by_test_id("read-only")).to_be_visible()
    await expect(guest).to_have_url(address)  # not sent to the login page
    await expect(guest.locator(".request-item")).to_have_count(2)
    await expect(guest.get_by_role("button", name="Answer")).to_have_count(0)
    await expect(guest.locator("dialog[open]")).to_have_count(0)

    pending = (await (await alice.request.get(f"/api/sessions/{session_id}")).json())["pending"]
    confirm = next(r for r in pending if r["kind"] == "confirm")
    answered = await alice.request.post(
        f"/api/sessions/{session_id}/requests/{confirm['request_id']}", data={"value": True}
    )
    assert answered.status == 200, await answered.text()
    await expect(guest.locator(".request-item")).to_have_count(1)
    await expect(guest.locator(".log")).to_contain_text("by user:alice")

    assert sockets and all(u.endswith(f"&link={token}") for u in sockets), sockets
    with_token = [u for u in fetched if "link=" in u]
    assert with_token and all(
        u == f"{hub.base_url}/api/sessions/{session_id}?link={token}" for u in with_token
    ), fetched
    assert any(u.endswith("/api/me") for u in fetched), fetched  # asked without the token
    stored = await guest.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert token not in stored and token not in str(await guest.context.cookies())

    # alice revokes it: the link page says so.
    await share.locator("[data-link]").get_by_role("button", name="Revoke").click()
    await expect(share.locator("[data-link]")).to_have_count(0)
    await guest.reload()
    await expect(guest.get_by_role("heading", name="This link no longer works")).to_be_visible()
    await expect(guest.get_by_text("This link has expired or was revoked.")).to_be_visible()

    # Logging out leads back to the login page.
    await bob.get_by_role("button", name="Log out").click()
    await expect(bob).to_have_url(re.compile(r"/login$"))
    await expect(bob.get_by_role("button", name="Log in")).to_be_visible()
    await expect(bob.get_by_test_id("whoami")).to_have_count(0)


async def test_an_answer_refused_as_forbidden_says_so_next_to_the_form(
    hub: RunningHub, people: People
) -> None:
    """bob may answer; alice turns him into a viewer while his question is open: his answer
    (over the socket) is refused, and the form says why, not a generic error."""
    alice = await people.page()
    await log_in_page(alice, "alice")
    started = await alice.request.post(
        "/api/sessions", data={"task": "two_questions", "inputs": {}}
    )
    session_id = (await started.json())["id"]
    shares = f"/api/sessions/{session_id}/shares"
    added = await alice.request.post(shares, data={"with": "user:bob", "role": "answerer"})
    assert added.status == 201, await added.text()

    bob = await people.page()
    await log_in_page(bob, "bob")
    await bob.goto(f"/sessions/{session_id}")
    question = bob.locator('dialog[open][data-kind="confirm"]')
    await expect(question).to_be_visible()
    await expect(bob.get_by_test_id("read-only")).to_have_count(0)
    await expect(bob.get_by_role("button", name="Cancel task")).to_have_count(0)
    await expect(bob.get_by_role("button", name="Share", exact=True)).to_have_count(0)

    changed = await alice.request.post(shares, data={"with": "user:bob", "role": "viewer"})
    assert changed.status == 200, await changed.text()
    await question.get_by_role("button", name="Yes").click()
    await expect(question.get_by_role("alert")).to_contain_text(
        "You can watch this session but may not answer this request"
    )
    await expect(question).to_be_visible()  # still open: nothing was answered

    await bob.reload()
    await expect(bob.get_by_test_id("read-only")).to_be_visible()
    await expect(bob.locator("dialog[open]")).to_have_count(0)
    await expect(bob.locator(".request-item")).to_have_count(2)


async def test_an_answerer_share_puts_the_question_in_bobs_inbox_and_he_answers_it(
    hub: RunningHub, people: People
) -> None:
    alice = await people.page()
    await log_in_page(alice, "alice")
    started = await alice.request.post(
        "/api/sessions", data={"task": "two_questions", "inputs": {}}
    )
    assert started.status == 201, await started.text()
    session_id = (await started.json())["id"]
    await alice.goto(f"/sessions/{session_id}")
    await expect(alice.locator("dialog[open][data-kind]")).to_be_visible()
    await alice.keyboard.press("Escape")
    await alice.get_by_role("button", name="Share", exact=True).click()
    share = alice.get_by_role("dialog", name="Share this session")
    await share.get_by_label("Share with").fill("bob")
    await share.get_by_label("Role").select_option("answerer")
    await share.get_by_role("button", name="Share", exact=True).click()
    await expect(share.locator('[data-share="user:bob"]')).to_be_visible()
    await alice.keyboard.press("Escape")

    # bob, in another browser context: both questions wait in his Inbox.
    bob = await people.page()
    await log_in_page(bob, "bob")
    await expect(bob.get_by_test_id("inbox-count")).to_have_text("2")
    await bob.get_by_role("link", name=re.compile("^Inbox")).click()
    item = bob.locator(".inbox-item", has_text="Keep going?")
    await expect(item).to_contain_text("asked by alice")
    await item.get_by_role("button", name="Yes").click()
    await expect(bob.locator(".inbox-item")).to_have_count(1)
    await expect(bob.get_by_test_id("inbox-count")).to_have_text("1")

    # alice's tab, open all along, hears bob's answer live.
    await expect(alice.locator(".log-answer").first).to_contain_text("by user:bob")
