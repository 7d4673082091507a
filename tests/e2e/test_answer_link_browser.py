"""Answer links from a mail, in a real Chromium with no login (a fresh browser context),
against a hub in accounts mode on Redis: alice's task asks bob; the email channel mails
bob through a real SMTP server; bob's link opens the form, and his press answers it, as
him. A confirmation's "Approve" link opens with Approve preselected and answers only when
pressed; a used link says so."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import bounded
from tests.support.accounts import PASSWORD, add_accounts, log_in
from tests.support.server import RunningHub, run_hub
from tests.support.smtp_server import Received, SmtpServer, smtp_server
from tests.support.tabs import eventually
from tether import Context, Hub
from tether.answer_links import AnswerLinks, MemorySpentLinks
from tether.config import Settings
from tether.mail import EmailChannel
from tether.messages import Request
from tether.notifications import Notification
from tether.store.redis_users import RedisDirectory
from tether.users import UserRecord

SECRET = "answer-link-browser"

hub_def = Hub()


@hub_def.task(title="Order supplies")
async def order(ctx: Context) -> dict[str, Any]:
    fields = [{"name": "note", "description": "A note for the order", "type": "string",
               "required": True}]
    return await ctx.ask(fields, prompt="What should we order?",
                         details="Budget: **300 EUR**", assignees=["user:bob"])


@hub_def.task(title="Ship the order")
async def ship(ctx: Context) -> bool:
    return await ctx.confirm("Ship it now?", details="Order **#42**", assignees=["user:bob"])


@pytest.fixture
async def hub(hub_settings: Settings) -> AsyncIterator[RunningHub]:
    """Accounts ``alice`` (who asks) and ``bob`` (who is asked, with an email)."""
    await add_accounts(hub_settings, (UserRecord(name="alice"),
                                      UserRecord(name="bob", email="bob@example.com")))
    async with run_hub(hub_settings.with_(secret=SECRET), hub_def) as running:
        yield running


@pytest.fixture
async def alice(hub: RunningHub) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as http:
        await log_in(http, "alice")
        yield http


@pytest.fixture
async def mailed(hub: RunningHub) -> AsyncIterator[tuple[EmailChannel, SmtpServer]]:
    async with smtp_server() as server:
        settings = hub.settings.with_(smtp_url=f"smtp://127.0.0.1:{server.port}",
                                      mail_from="tether@hub.example", public_url=hub.base_url)
        assert settings.redis_url is not None
        directory = RedisDirectory(settings.redis_url)
        try:
            yield EmailChannel(settings, directory, AnswerLinks(SECRET, MemorySpentLinks())), server
        finally:
            await directory.close()


@pytest.fixture
async def stranger(browser: Browser, hub: RunningHub) -> AsyncIterator[Page]:
    """A browser that never logged in, as a mail client opens links in."""
    ctx: BrowserContext = await browser.new_context(base_url=hub.base_url)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    await bounded(ctx.close(), "closing the link's browser context")
    assert errors == [], f"uncaught errors in the page: {errors}"


async def mail_for(
    alice: httpx.AsyncClient, task: str, mailed: tuple[EmailChannel, SmtpServer]
) -> tuple[str, Received]:
    """Start ``task``, wait for its question, mail it; the session id and bob's mail."""
    channel, server = mailed
    started = await alice.post("/api/sessions", json={"task": task, "inputs": {}})
    assert started.status_code == 201, started.text
    session_id: str = started.json()["id"]
    pending: list[dict[str, Any]] = []

    async def asked() -> bool:
        nonlocal pending
        pending = (await alice.get(f"/api/sessions/{session_id}")).json()["pending"]
        return bool(pending)

    await eventually(asked, what="the question")
    request = Request.model_validate(pending[0])
    before = len(server.mails)
    await channel.deliver(Notification(
        id=f"ntf_{secrets.token_hex(8)}", type="request.created", at=request.created_at,
        session_id=session_id, task=task, owner="user:alice", seq=1, request=request,
    ))
    mails = await server.wait_for(before + 1)
    return session_id, mails[-1]


def links_of(mail: Received) -> list[str]:
    return re.findall(r"https?://\S+/answer/\S+", mail.part("text/plain"))


async def session_of(alice: httpx.AsyncClient, session_id: str) -> dict[str, Any]:
    found: dict[str, Any] = (await alice.get(f"/api/sessions/{session_id}")).json()
    return found


async def test_the_link_opens_the_form_without_login_and_answers_as_bob(
    stranger: Page, alice: httpx.AsyncClient, mailed: tuple[EmailChannel, SmtpServer],
) -> None:
    session_id, mail = await mail_for(alice, "order", mailed)
    [link] = links_of(mail)
    await stranger.goto(link)
    await expect(stranger.get_by_role("heading", name="What should we order?")).to_be_visible()
    await expect(stranger.get_by_test_id("answer-link-person")).to_have_text("bob")
    await expect(stranger.locator(".details strong")).to_have_text("300 EUR")
    await stranger.get_by_label(re.compile("A note for the order")).fill("two boxes of pens")
    await stranger.get_by_role("button", name="Submit").click()
    await expect(stranger.get_by_test_id("answer-link-done")).to_contain_text("Thank you")

    async def finished() -> bool:
        return (await session_of(alice, session_id))["status"] == "completed"

    await eventually(finished, what="the session to finish")
    assert (await session_of(alice, session_id))["result"] == {"note": "two boxes of pens"}
    events = (await alice.get(f"/api/sessions/{session_id}/events")).json()["events"]
    assert [e["by"] for e in events if e["type"] == "request_answered"] == ["user:bob"]
    assert (await stranger.context.cookies()) == []  # no login was ever made

    await stranger.goto(link)  # once is all
    closed = stranger.get_by_test_id("answer-link-closed")
    await expect(closed).to_have_attribute("data-code", "link_used")
    await expect(closed.get_by_role("heading")).to_have_text("This link was already used")


async def test_approve_is_preselected_but_only_a_press_answers(
    stranger: Page, alice: httpx.AsyncClient, mailed: tuple[EmailChannel, SmtpServer],
) -> None:
    session_id, mail = await mail_for(alice, "ship", mailed)
    approve, _decline = links_of(mail)
    await stranger.goto(approve)
    await expect(stranger.get_by_test_id("answer-link-chosen")).to_contain_text("Approve")
    button = stranger.get_by_role("button", name="Approve")
    await expect(button).to_be_focused()
    await expect(button).to_have_class(re.compile("primary"))
    await stranger.reload()  # a page opened (twice) has answered nothing
    await expect(stranger.get_by_role("heading", name="Ship it now?")).to_be_visible()
    assert (await session_of(alice, session_id))["status"] == "waiting"

    await stranger.get_by_role("button", name="Approve").click()
    await expect(stranger.get_by_test_id("answer-link-done")).to_be_visible()

    async def approved() -> bool:
        session = await session_of(alice, session_id)
        return session["status"] == "completed" and session["result"] is True

    await eventually(approved, what="the session to finish approved")


@pytest.mark.hub_settings(answer_link_login="required")
async def test_a_hub_that_requires_login_sends_the_link_through_the_login_page_and_back(
    stranger: Page, alice: httpx.AsyncClient, mailed: tuple[EmailChannel, SmtpServer],
) -> None:
    """TETHER_ANSWER_LINK_LOGIN=required: the link's page asks bob to sign in, the login
    page returns to it (Approve still preselected), and his press answers as him."""
    session_id, mail = await mail_for(alice, "ship", mailed)
    approve, _decline = links_of(mail)
    await stranger.goto(approve)
    asks = stranger.get_by_test_id("answer-link-sign-in")
    await expect(asks.get_by_role("heading")).to_have_text("Sign in to answer")
    await expect(asks).to_contain_text("sign in as bob")
    await asks.get_by_role("link", name="Sign in to answer").click()
    await expect(stranger).to_have_url(re.compile(r"/login\?next="))
    await stranger.get_by_label("User name").fill("bob")
    await stranger.get_by_label("Password").fill(PASSWORD)
    await stranger.get_by_role("button", name="Log in").click()
    await expect(stranger.get_by_test_id("answer-link-chosen")).to_contain_text("Approve")
    assert stranger.url == approve
    assert (await session_of(alice, session_id))["status"] == "waiting"
    await stranger.get_by_role("button", name="Approve").click()
    await expect(stranger.get_by_test_id("answer-link-done")).to_be_visible()

    async def approved() -> bool:
        session = await session_of(alice, session_id)
        return session["status"] == "completed" and session["result"] is True

    await eventually(approved, what="the session to finish approved")
    events = (await alice.get(f"/api/sessions/{session_id}/events")).json()["events"]
    assert [e["by"] for e in events if e["type"] == "request_answered"] == ["user:bob"]
