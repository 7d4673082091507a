"""Assigned questions in a real Chromium, accounts mode on Redis: alice files an expense
that waits for bob; bob, in a browser of his own, finds it in his Inbox (the nav counts
it), approves it there, and alice's open session shows it answered, by bob. Bob's tab
badges its title and icon and shows a browser notification when a question arrives while
he is elsewhere, and the Inbox shows deadlines."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

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
    """The browser hub with accounts ``alice`` and ``bob``."""
    await add_accounts(hub_settings, (UserRecord(name="alice"), UserRecord(name="bob")))
    async with run_hub(hub_settings, build_browser_hub()) as running:
        yield running


async def logged_in_page(context: BrowserContext, name: str) -> Page:
    page = await context.new_page()
    await log_in_page(page, name)
    return page


@pytest.fixture
async def bob_context(browser: Browser, hub: RunningHub) -> AsyncIterator[BrowserContext]:
    """A second person's browser (its own cookies)."""
    ctx = await browser.new_context(base_url=hub.base_url, viewport={"width": 1100, "height": 860})
    yield ctx
    await bounded(ctx.close(), "closing bob's browser context")


async def test_bob_answers_alices_assigned_question_from_his_inbox(
    context: BrowserContext, bob_context: BrowserContext,
) -> None:
    alice = await logged_in_page(context, "alice")
    started = await alice.request.post("/api/sessions", data={
        "task": "expense_approval",
        "inputs": {"description": "Conference tickets", "amount": 450, "approver": "user:bob"},
    })
    assert started.status == 201, await started.text()
    session_id = (await started.json())["id"]
    await alice.goto(f"/sessions/{session_id}")
    waiting = alice.get_by_role("region", name=re.compile("Waiting for others"))
    await expect(waiting.get_by_test_id("waiting-for")).to_have_text("waiting for bob")
    await expect(waiting.get_by_role("button", name="Answer")).to_have_count(0)
    await expect(alice.get_by_role("dialog")).to_have_count(0)  # not alice's to answer
    await expect(alice.get_by_test_id("inbox-count")).to_have_count(0)

    bob = await logged_in_page(bob_context, "bob")
    await expect(bob.get_by_test_id("inbox-count")).to_have_text("1")
    await expect(bob).to_have_title("(1) Tether")
    await bob.get_by_role("link", name=re.compile("^Inbox")).click()
    await expect(bob).to_have_url(re.compile(r"/inbox$"))
    item = bob.locator(".inbox-item", has_text="Conference tickets")
    await expect(item).to_contain_text("Expense approval")
    await expect(item).to_contain_text("asked by alice")
    await expect(item.get_by_role("heading")).to_have_text(
        "Approve 450.00 EUR for Conference tickets?"
    )
    await item.get_by_role("button", name="Yes").click()
    await expect(bob.locator(".inbox-item")).to_have_count(0)
    await expect(bob.get_by_text("Nothing waits for you.")).to_be_visible()
    await expect(bob.get_by_test_id("inbox-count")).to_have_count(0)
    await expect(bob).to_have_title("Tether")

    # alice's tab, open all along, hears the answer live.
    await expect(alice.locator("[data-status]").first).to_have_attribute(
        "data-status", "completed"
    )
    await expect(alice.locator(".log-answer")).to_contain_text("by user:bob")
    await expect(alice.get_by_role("region", name="Result")).to_contain_text("true")
    await alice.close()
    await bob.close()


# Headless Chromium shows no notification: this stands in for window.Notification before
# the app loads, keeps the browser's real permission (granted by the test) and records
# what the app asks to show, each a target a test can "click".
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  const shown = [];
  window.__notifications = shown;
  class Recorded extends EventTarget {
    static get permission() { return Real ? Real.permission : 'denied'; }
    static requestPermission() { return Real.requestPermission(); }
    constructor(title, options = {}) {
      super();
      Object.assign(this, { title, body: options.body, tag: options.tag });
      Object.assign(this, { onclick: null, closed: false });
      this.addEventListener('click', (event) => this.onclick && this.onclick(event));
      shown.push(this);
    }
    close() { this.closed = true; }
  }
  window.Notification = Recorded;
})();
"""
ICON = 'link[rel~="icon"]'


async def shown_notifications(page: Page) -> list[dict[str, str]]:
    result: list[dict[str, str]] = await page.evaluate(
        "() => window.__notifications.map(n => ({title: n.title, body: n.body, tag: n.tag}))"
    )
    return result


async def file_expense(alice: Page, description: str) -> str:
    started = await alice.request.post("/api/sessions", data={
        "task": "expense_approval",
        "inputs": {"description": description, "amount": 450, "approver": "user:bob"},
    })
    assert started.status == 201, await started.text()
    session_id: str = (await started.json())["id"]
    return session_id


async def test_a_question_for_bob_badges_his_tab_and_notifies_him(
    context: BrowserContext, bob_context: BrowserContext, hub: RunningHub,
) -> None:
    await bob_context.grant_permissions(["notifications"], origin=hub.base_url)
    await bob_context.add_init_script(RECORD_NOTIFICATIONS)
    bob = await logged_in_page(bob_context, "bob")
    await bob.get_by_role("link", name=re.compile("^Inbox")).click()
    toggle = bob.get_by_test_id("notify-state")
    # Allowed by the browser, but notifications are only ever on by the user's choice.
    await expect(toggle).to_have_attribute("data-state", "off")
    await toggle.click()
    await expect(toggle).to_have_attribute("data-state", "on")
    await expect(toggle).to_have_text("Turn off notifications")
    me = await (await bob.request.get("/api/me")).json()
    # The first read of the (empty) inbox is remembered: from now on anything is new.
    await bob.wait_for_function(
        "key => localStorage.getItem(key) !== null", arg=f"tether.inbox.seen.{me['id']}"
    )
    await bob.get_by_role("link", name="Sessions").click()
    plain_icon = await bob.locator(ICON).get_attribute("href")
    assert plain_icon is not None and plain_icon.startswith("data:image/svg+xml")

    alice = await logged_in_page(context, "alice")
    first = await file_expense(alice, "Conference tickets")
    await expect(bob).to_have_title("(1) Tether")
    badged = re.compile(r"^data:image/png;base64,")
    await expect(bob.locator(ICON)).to_have_attribute("href", badged)
    await bob.wait_for_function("() => window.__notifications.length > 0")
    [notice] = await shown_notifications(bob)
    assert notice["title"] == "Expense approval"
    assert notice["body"] == "Approve 450.00 EUR for Conference tickets?"
    assert notice["tag"].startswith(f"tether:{first}/")

    # A reload forgets nothing: the next notification is for the next question only.
    await bob.reload()
    await expect(bob).to_have_title("(1) Tether")
    second = await file_expense(alice, "Train to Lyon")
    await expect(bob).to_have_title("(2) Tether")
    await bob.wait_for_function("() => window.__notifications.length > 0")
    assert [n["body"] for n in await shown_notifications(bob)] == [
        "Approve 450.00 EUR for Train to Lyon?"
    ]

    # Clicking it opens that session, where bob answers.
    await bob.evaluate(
        "() => window.__notifications[0].dispatchEvent(new Event('click', {cancelable: true}))"
    )
    await expect(bob).to_have_url(re.compile(f"/sessions/{second}$"))
    assert await bob.evaluate("() => window.__notifications[0].closed") is True
    await bob.get_by_role("dialog").get_by_role("button", name="Yes").click()
    await expect(bob).to_have_title("(1) Tether")

    await bob.get_by_role("link", name=re.compile("^Inbox")).click()
    await bob.locator(".inbox-item", has_text="Conference tickets").get_by_role(
        "button", name="Yes"
    ).click()
    await expect(bob).to_have_title("Tether")
    await expect(bob.locator(ICON)).to_have_attribute("href", plain_icon)
    assert len(await shown_notifications(bob)) == 1
    await alice.close()
    await bob.close()


async def test_the_inbox_shows_deadlines_and_marks_what_is_due_within_the_hour(
    context: BrowserContext, bob_context: BrowserContext, artifacts: Path,
) -> None:
    alice = await logged_in_page(context, "alice")
    for seconds in (7200, 1800):
        started = await alice.request.post("/api/sessions", data={
            "task": "timed_approval", "inputs": {"approver": "user:bob", "expires_in": seconds},
        })
        assert started.status == 201, await started.text()
    bob = await logged_in_page(bob_context, "bob")
    await bob.goto("/inbox")
    soon = bob.locator(".inbox-item", has_text="Sign off within 1800 s?")
    later = bob.locator(".inbox-item", has_text="Sign off within 7200 s?")
    await expect(soon).to_have_attribute("data-due", "soon")
    await expect(soon.locator(".due-mark")).to_have_text("Due soon")
    await expect(soon.locator(".inbox-due")).to_have_text(re.compile(r"due in (29|30) min"))
    await expect(later).to_have_attribute("data-due", "later")
    await expect(later.locator(".due-mark")).to_have_count(0)
    await expect(later.locator(".inbox-due")).to_have_text(re.compile(r"due in (1 h 59 min|2 h)"))
    await expect(soon.locator(".inbox-since")).to_contain_text("just asked")
    # Still newest first: the one due sooner was filed last.
    await expect(bob.locator(".inbox-item").first).to_contain_text("Sign off within 1800 s?")
    await bob.screenshot(path=str(artifacts / "inbox-deadlines.png"), full_page=True)
    await alice.close()
    await bob.close()
